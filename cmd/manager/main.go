/*
Copyright 2026 The dllm-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command manager runs the dllm-operator: the DLLMService controller, its health probes and its
// metrics endpoint. It only wires things together; the logic lives in controllers/.
package main

import (
	"crypto/tls"
	"flag"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"dllm.dev/dllm-operator/api/v1alpha1"
	"dllm.dev/dllm-operator/controllers"
	"dllm.dev/dllm-operator/controllers/render"
)

// defaultRuntimeImage is the runtime image `make docker-build` produces.
const defaultRuntimeImage = "dllm-runtime:latest"

func main() {
	var (
		metricsAddr    string
		probeAddr      string
		secureMetrics  bool
		enableHTTP2    bool
		leaderElection bool
		runtimeImage   string
		tuneInterval   time.Duration
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0",
		"Address of the metrics endpoint, e.g. :8443 (HTTPS) or :8080 (HTTP); 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS, allowing only callers authorised to get /metrics.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"Allow HTTP/2 on the metrics server (off by default: HTTP/2 Rapid Reset, CVE-2023-44487).")
	flag.BoolVar(&leaderElection, "leader-elect", false, "Elect a leader so only one replica reconciles.")
	flag.StringVar(&runtimeImage, "runtime-image", defaultRuntimeImage,
		"Runtime image for DLLMServices that do not set spec.runtime.image.")
	flag.DurationVar(&tuneInterval, "autotune-interval", 15*time.Second,
		"Observation window of the cache tuner: how often it scrapes the runtime Pods of a DLLMService in Autotune mode and decides.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			log.Error(err, "Failed to build the scheme")
			os.Exit(1)
		}
	}

	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics}
	if !enableHTTP2 {
		metricsOpts.TLSOpts = append(metricsOpts.TLSOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsOpts,
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElection,
		LeaderElectionID:       "dllm-operator.serving.dllm.dev",
		Cache:                  controllers.CacheOptions(),
	})
	if err != nil {
		log.Error(err, "Failed to create the manager")
		os.Exit(1)
	}

	if err := (&controllers.DLLMServiceReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("dllm-operator"),
		Render:   render.Options{RuntimeImage: runtimeImage},
		Tuner:    &controllers.Tuner{Interval: tuneInterval, Metrics: controllers.NewMetrics(metrics.Registry)},
	}).SetupWithManager(mgr); err != nil {
		log.Error(err, "Failed to set up the controller", "controller", "DLLMService")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "Failed to add the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "Failed to add the readiness check")
		os.Exit(1)
	}

	log.Info("Starting the manager", "runtimeImage", runtimeImage)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
}
