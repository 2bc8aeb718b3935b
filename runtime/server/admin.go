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

package server

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"

	"dllm.dev/dllm-operator/runtime/contract"
	"dllm.dev/dllm-operator/runtime/featcache"
)

// cacheState is the body of GET and PUT /admin/v1/cache: the contract's cache fields and the
// generation the settings have.
type cacheState struct {
	contract.CacheConfig
	Generation int `json:"generation"`
}

// admin wraps an admin handler with bearer-token authentication: 403 when the admin API is
// disabled (no token file), 401 without the right token.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.o.AdminTokenFile == "" {
			writeError(w, &apiError{status: http.StatusForbidden, Msg: "the admin API is disabled", Type: typeInvalid})
			return
		}
		want, err := os.ReadFile(s.o.AdminTokenFile)
		token := strings.TrimSpace(string(want))
		if err != nil || token == "" {
			s.log.Error("admin token unreadable", "file", s.o.AdminTokenFile, "err", err)
			writeError(w, &apiError{status: http.StatusForbidden, Msg: "the admin API has no token", Type: typeInvalid})
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, &apiError{status: http.StatusUnauthorized, Msg: "a valid bearer token is required", Type: typeInvalid})
			return
		}
		h(w, r)
	}
}

// getCache reports the active cache settings and their generation.
func (s *Server) getCache(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	st := cacheState{CacheConfig: cacheConfig(s.cache), Generation: s.generation}
	s.mu.Unlock()
	writeJSON(w, st)
}

// putCache validates new cache settings and applies them to requests admitted from now on;
// requests already running keep theirs. The generation (and its metric) moves on, unless the
// settings are the ones in force.
func (s *Server) putCache(w http.ResponseWriter, r *http.Request) {
	var in contract.CacheConfig
	body := http.MaxBytesReader(w, r.Body, 1<<16)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, badRequest("body", "invalid cache settings: %v", err))
		return
	}
	set, apiErr := cacheSettings(in)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	gen := s.SetCacheSettings(set, "admin API")
	writeJSON(w, cacheState{CacheConfig: cacheConfig(set), Generation: gen})
}

// SetCacheSettings makes set (nil: the cache off) the cache settings of requests admitted from
// now on and returns their generation; source names who changed them, for the log.
func (s *Server) SetCacheSettings(set *featcache.Settings, source string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The same settings again (an operator's push and then its ConfigMap, say) are no change:
	// a new generation would cut every observation window that spans it.
	if (set == nil && s.cache == nil) || (set != nil && s.cache != nil && *set == *s.cache) {
		return s.generation
	}
	s.cache = set
	if s.o.Metrics != nil {
		s.generation = s.o.Metrics.SetCacheSettings(set)
	} else {
		s.generation++
	}
	c := cacheConfig(set)
	s.log.Info("cache settings changed", "source", source, "enabled", c.Enabled, "prompt_interval", c.PromptRefreshInterval,
		"response_interval", c.ResponseRefreshInterval, "transfer_percent", c.TransferPercent, "generation", s.generation)
	return s.generation
}

// cacheSettings validates the contract's cache fields against the contract's bounds.
func cacheSettings(c contract.CacheConfig) (*featcache.Settings, *apiError) {
	if c.TransferPercent < 0 || c.TransferPercent > 100 {
		return nil, badRequest("transferPercent", "transferPercent must be between 0 and 100, got %d", c.TransferPercent)
	}
	if c.ShadowPercent != 0 {
		return nil, badRequest("shadowPercent", "shadowPercent is set in the runtime configuration, not live")
	}
	if !c.Enabled {
		return nil, nil
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"promptRefreshInterval", c.PromptRefreshInterval}, {"responseRefreshInterval", c.ResponseRefreshInterval}} {
		if f.v < 1 || f.v > contract.MaxRefreshInterval {
			return nil, badRequest(f.name, "%s must be between 1 and %d, got %d", f.name, contract.MaxRefreshInterval, f.v)
		}
	}
	set := CacheSettingsOf(c)
	if err := set.Validate(); err != nil {
		return nil, badRequest("body", "%v", fmt.Errorf("cache settings: %w", err))
	}
	return set, nil
}

// CacheSettingsOf converts the contract's cache fields to settings, nil when the cache is off.
// It does not validate them (contract.Config.Validate does for a configuration file).
func CacheSettingsOf(c contract.CacheConfig) *featcache.Settings {
	if !c.Enabled {
		return nil
	}
	return &featcache.Settings{PromptInterval: c.PromptRefreshInterval, ResponseInterval: c.ResponseRefreshInterval,
		TransferRatio: float64(c.TransferPercent) / 100}
}

// cacheConfig is the contract's form of s; CacheSettingsOf is its inverse.
func cacheConfig(s *featcache.Settings) contract.CacheConfig {
	if s == nil {
		return contract.CacheConfig{}
	}
	return contract.CacheConfig{Enabled: true, PromptRefreshInterval: s.PromptInterval,
		ResponseRefreshInterval: s.ResponseInterval, TransferPercent: int(s.TransferRatio*100 + 0.5)}
}
