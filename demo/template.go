package demo

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// placeholder is a ${NAME} of a template: what the official nginx image's
// envsubst step replaces. Nginx's own variables ($host) have no braces.
var placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// RenderTemplate replaces every ${NAME} placeholder of text with vars[NAME].
// A placeholder without a value is an error naming it, so that a typo never
// reaches Nginx as a literal.
func RenderTemplate(text string, vars map[string]string) (string, error) {
	var missing []string
	out := placeholder.ReplaceAllStringFunc(text, func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		v, ok := vars[name]
		if !ok {
			if !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("template: no value for %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// Placeholders lists the names a template uses, in order of first use.
func Placeholders(text string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	return names
}
