package v1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Color is a widget's color.
// +kubebuilder:validation:Enum=Red;Blue
type Color string

const (
	// ColorRed is red.
	ColorRed Color = "Red"
	// ColorBlue is blue.
	ColorBlue Color = "Blue"
)

// Common are fields several specs share.
type Common struct {
	// label tags the widget.
	// +optional
	// +kubebuilder:validation:Pattern=`^[a-z]+(x|y)$`
	Label string `json:"label,omitempty"`
}

// WidgetSpec is the desired widget.
//
// +kubebuilder:validation:XValidation:rule="self.size > 0 || self.color == 'Red'",message="spec.size, color: pick one"
type WidgetSpec struct {
	Common `json:",inline"`

	// size is how big, in cm.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	Size int32 `json:"size,omitempty"`

	// color is the color.
	// +required
	Color Color `json:"color"`

	// parts are the parts.
	Parts []Part `json:"parts,omitempty"`

	// timeout bounds assembly.
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// internal is not part of the API.
	Internal string `json:"-"`
}

// Part is one part.
type Part struct {
	// name names the part.
	Name string `json:"name"`
}

// Widget is the kind.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=wd;wdg,scope=Cluster
// +kubebuilder:printcolumn:name="Size",type=integer,JSONPath=".spec.size",priority=1
type Widget struct {
	metav1.TypeMeta `json:",inline"`
	// spec is the desired state.
	Spec WidgetSpec `json:"spec"`
}

// Unused is reachable from nothing.
type Unused struct{}

// AnnotationPaint, set on a Widget, paints it.
const AnnotationPaint = "example.dllm.dev/paint"
