package main

import (
	"net/url"
	"testing"
)

func TestWithCustomPlans(t *testing.T) {
	for raw, want := range map[string]string{
		"postgres://u@127.0.0.1:5432/db":                          "force_custom_plan",
		"postgres://u@127.0.0.1:5432/db?sslmode=disable":          "force_custom_plan",
		"postgres://u@127.0.0.1:5432/db?plan_cache_mode=auto":     "auto",
		"postgres://u:p%40ss@127.0.0.1:5432/db?pool_max_conns=20": "force_custom_plan",
	} {
		got, err := withCustomPlans(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("%s → %s: %v", raw, got, err)
		}
		if mode := u.Query().Get("plan_cache_mode"); mode != want {
			t.Errorf("%s → %s: plan_cache_mode %q, want %q", raw, got, mode, want)
		}
		orig, _ := url.Parse(raw)
		for k, v := range orig.Query() {
			if k != "plan_cache_mode" && u.Query().Get(k) != v[0] {
				t.Errorf("%s → %s: %s lost", raw, got, k)
			}
		}
		if u.User.String() != orig.User.String() || u.Host != orig.Host || u.Path != orig.Path {
			t.Errorf("%s → %s: user, host or database changed", raw, got)
		}
	}
}
