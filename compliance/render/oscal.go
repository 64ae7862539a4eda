package render

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tapline/tapline/compliance/report"
)

// OSCALVersion is the OSCAL version of the assessment results written.
const OSCALVersion = "1.0.4"

// oscalNamespace is the name space of the name-based (version 5) UUIDs of
// the OSCAL document: the same report gives the same UUIDs.
var oscalNamespace = [16]byte{0x6b, 0x1f, 0x3e, 0x52, 0x0c, 0x9a, 0x4d, 0x2e, 0x9f, 0x41, 0x7a, 0x55, 0x2b, 0xd3, 0x18, 0xe0}

// uuid5 returns the version 5 UUID of name in oscalNamespace.
func uuid5(name string) string {
	h := sha1.New()
	h.Write(oscalNamespace[:])
	h.Write([]byte(name))
	s := h.Sum(nil)
	s[6] = s[6]&0x0f | 0x50
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

type oscalProp struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Class string `json:"class,omitempty"`
}

type oscalLink struct {
	Href string `json:"href"`
	Rel  string `json:"rel,omitempty"`
	Text string `json:"text,omitempty"`
}

// OSCAL is the report as OSCAL assessment results (version 1.0.4): one
// result for the period, the framework's controls as reviewed controls,
// one observation per check (method TEST, with its population, result and
// a link to the check in report.html) and one finding per control whose
// target status is satisfied when the control passed (or was waived) and
// not-satisfied otherwise.
func OSCAL(r *report.Report) ([]byte, error) {
	base := "tapline/" + r.RunID
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	prop := func(name, value string) oscalProp {
		if strings.TrimSpace(value) == "" {
			value = "-"
		}
		return oscalProp{Name: name, Value: strings.TrimSpace(value)}
	}
	oscalID := func(control string) string {
		return r.Framework.OSCALPrefix + strings.ToLower(control)
	}

	var selections []map[string]string
	for _, c := range r.Controls {
		selections = append(selections, map[string]string{"control-id": oscalID(c.ID)})
	}
	obsUUID := map[string]string{}
	var observations []map[string]any
	for i := range r.Checks {
		c := &r.Checks[i]
		id := uuid5(base + "/observation/" + c.ID)
		obsUUID[c.ID] = id
		props := []oscalProp{
			prop("check-id", c.ID),
			prop("result", string(c.Result)),
			prop("population", fmt.Sprint(c.Population)),
			prop("population-label", c.PopulationLabel),
			prop("exceptions", fmt.Sprint(countOpen(c.Exceptions))),
			prop("waived-exceptions", fmt.Sprint(len(c.Exceptions)-countOpen(c.Exceptions))),
		}
		observations = append(observations, map[string]any{
			"uuid":        id,
			"title":       fmt.Sprintf("Check %d: %s", c.Number, c.Title),
			"description": c.Method + " Outcome: " + c.Message,
			"props":       props,
			"methods":     []string{"TEST"},
			"types":       []string{"finding"},
			"relevant-evidence": []map[string]any{{
				"href":        FileHTML + "#check-" + c.ID,
				"description": fmt.Sprintf("Population, per-day results, exceptions, samples and the exact SQL of check %s.", c.ID),
			}},
			"collected": ts(r.GeneratedAt),
		})
	}
	var findings []map[string]any
	for _, c := range r.Controls {
		state := "not-satisfied"
		if c.Result == report.Pass || c.Result == report.Waived {
			state = "satisfied"
		}
		var related []map[string]string
		for _, id := range c.Checks {
			if u, ok := obsUUID[id]; ok {
				related = append(related, map[string]string{"observation-uuid": u})
			}
		}
		f := map[string]any{
			"uuid":        uuid5(base + "/finding/" + c.ID),
			"title":       c.ID + " " + c.Title,
			"description": fmt.Sprintf("%s Result: %s.", c.Description, c.Result),
			"props":       []oscalProp{prop("result", string(c.Result))},
			"target": map[string]any{
				"type":      "objective-id",
				"target-id": oscalID(c.ID) + "_obj",
				"title":     c.ID + " " + c.Title,
				"status":    map[string]string{"state": state},
			},
		}
		if len(related) > 0 {
			f["related-observations"] = related
		}
		findings = append(findings, f)
	}
	result := map[string]any{
		"uuid":        uuid5(base + "/result"),
		"title":       fmt.Sprintf("%s evidence, %s to %s", r.Framework.Name, ts(r.Period.From), ts(r.Period.To)),
		"description": fmt.Sprintf("Automated checks of %s (%s) over the period, scope %q. Overall result: %s.", r.Framework.Name, r.Framework.Version, r.Scope.String(), r.Result),
		"start":       ts(r.Period.From),
		"end":         ts(r.Period.To),
		"props": []oscalProp{
			prop("framework", r.Framework.ID),
			prop("result", string(r.Result)),
			prop("run-id", r.RunID),
			prop("sample-seed", fmt.Sprint(r.Seed)),
			prop("scope-services", listOrAll(r.Scope.Services)),
			prop("scope-listeners", listOrAll(r.Scope.Listeners)),
		},
		"reviewed-controls": map[string]any{
			"control-selections": []map[string]any{{"include-controls": selections}},
		},
		"observations": observations,
		"findings":     findings,
	}
	doc := map[string]any{
		"assessment-results": map[string]any{
			"uuid": uuid5(base + "/assessment-results"),
			"metadata": map[string]any{
				"title":         fmt.Sprintf("%s evidence report %s", r.Framework.Name, r.RunID),
				"last-modified": ts(r.GeneratedAt),
				"version":       r.RunID,
				"oscal-version": OSCALVersion,
				"props":         []oscalProp{prop("generator", r.Generator.Name+" "+r.Generator.Version)},
				"links":         []oscalLink{{Href: FileHTML, Rel: "alternate", Text: "Human-readable report"}},
			},
			"import-ap": map[string]any{
				"href":    FileJSON,
				"remarks": "Tapline has no separate assessment plan: the checks, their parameters and queries are in report.json.",
			},
			"results": []any{result},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func countOpen(es []report.Exception) int {
	n := 0
	for _, e := range es {
		if e.Waiver == nil {
			n++
		}
	}
	return n
}

// listOrAll is a scope list as an OSCAL property value (never empty).
func listOrAll(l []string) string {
	if len(l) == 0 {
		return "all"
	}
	return strings.Join(l, ", ")
}
