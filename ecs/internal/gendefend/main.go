// Command gendefend writes the fields Elastic Defend's event index
// templates define (logs-endpoint.events.*), from a checkout of
// elastic/endpoint-package: the union of package/endpoint/data_stream/*/
// fields/*.yml over the data streams whose dataset is endpoint.events.*,
// with their multi_fields, one "path type [normalizer=N] [ignore_above=N]"
// line each, sorted. The event
// templates are "dynamic: false", so a field not listed is not searchable.
//
//	go run ./ecs/internal/gendefend -src PATH/TO/endpoint-package -ref COMMIT > ecs/defend_fields.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

type field struct {
	Name        string  `yaml:"name"`
	Type        string  `yaml:"type"`
	Normalizer  string  `yaml:"normalizer"`
	IgnoreAbove int     `yaml:"ignore_above"`
	Fields      []field `yaml:"fields"`
	MultiFields []field `yaml:"multi_fields"`
}

// decl is a field's line after its path: the type, then the options that
// change what a search matches (normalizer=, ignore_above=).
func (f field) decl() string {
	d := f.Type
	if f.Normalizer != "" {
		d += " normalizer=" + f.Normalizer
	}
	if f.IgnoreAbove > 0 {
		d += fmt.Sprintf(" ignore_above=%d", f.IgnoreAbove)
	}
	return d
}

func main() {
	src := flag.String("src", "", "checkout of elastic/endpoint-package")
	ref := flag.String("ref", "", "its commit, recorded in the header")
	flag.Parse()
	if *src == "" || *ref == "" {
		fmt.Fprintln(os.Stderr, "usage: gendefend -src DIR -ref COMMIT")
		os.Exit(2)
	}
	if err := run(*src, *ref); err != nil {
		fmt.Fprintln(os.Stderr, "gendefend:", err)
		os.Exit(1)
	}
}

func run(src, ref string) error {
	version := ""
	if data, err := os.ReadFile(filepath.Join(src, "package/endpoint/manifest.yml")); err == nil {
		var m struct {
			Version string `yaml:"version"`
		}
		if err := yaml.Unmarshal(data, &m); err != nil {
			return err
		}
		version = m.Version
	}
	streams, err := filepath.Glob(filepath.Join(src, "package/endpoint/data_stream/*/manifest.yml"))
	if err != nil {
		return err
	}
	types := map[string]string{}
	var used []string
	for _, manifest := range streams {
		data, err := os.ReadFile(manifest)
		if err != nil {
			return err
		}
		var m struct {
			Dataset string `yaml:"dataset"`
		}
		if err := yaml.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("%s: %w", manifest, err)
		}
		if !strings.HasPrefix(m.Dataset, "endpoint.events.") {
			continue
		}
		used = append(used, m.Dataset)
		files, _ := filepath.Glob(filepath.Join(filepath.Dir(manifest), "fields", "*.yml"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			var fs []field
			if err := yaml.Unmarshal(data, &fs); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			for _, fl := range fs {
				collect("", fl, types)
			}
		}
	}
	sort.Strings(used)
	paths := make([]string, 0, len(types))
	for p := range types {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "# Fields of Elastic Defend's event index templates (logs-endpoint.events.*, dynamic: false).\n")
	fmt.Fprintf(w, "# Generated from elastic/endpoint-package %s, commit %s,\n", version, ref)
	fmt.Fprintf(w, "# data streams %s, by:\n", strings.Join(used, ", "))
	fmt.Fprintf(w, "#   go run ./ecs/internal/gendefend -src PATH/TO/endpoint-package -ref COMMIT > ecs/defend_fields.txt\n")
	fmt.Fprintf(w, "# %d fields. Do not edit.\n", len(paths))
	for _, p := range paths {
		fmt.Fprintf(w, "%s %s\n", p, types[p])
	}
	return nil
}

func collect(prefix string, f field, types map[string]string) {
	name := f.Name
	if prefix != "" {
		name = prefix + "." + f.Name
	}
	if f.Type == "group" || (f.Type == "" && len(f.Fields) > 0) {
		for _, sub := range f.Fields {
			collect(name, sub, types)
		}
		return
	}
	types[name] = f.decl()
	for _, mf := range f.MultiFields {
		types[name+"."+mf.Name] = mf.decl()
	}
}
