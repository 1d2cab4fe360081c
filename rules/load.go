package rules

import (
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/loginrisk/loginrisk/schemas"
	"go.yaml.in/yaml/v3"
)

//go:embed default
var defaultFiles embed.FS

// Set is a loaded, compiled and validated rule set with its policy. It is
// immutable and safe for concurrent use.
type Set struct {
	version string
	rules   []*Rule
	byID    map[string]*Rule
	policy  *Policy
	files   []string
}

// Version identifies the set's content: the first 16 hex digits of the
// SHA-256 of its rule files' names and bytes, in name order. Two sets from
// the same files have the same version; decisions carry it.
func (s *Set) Version() string { return s.version }

// Rules returns the rules in set order (files by name, rules in file
// order), shadow rules included. The slice is a copy; the rules are shared.
func (s *Set) Rules() []*Rule { return slices.Clone(s.rules) }

// IDs returns the rule ids in set order.
func (s *Set) IDs() []string {
	ids := make([]string, len(s.rules))
	for i, r := range s.rules {
		ids[i] = r.ID
	}
	return ids
}

// Rule returns the rule with the given id.
func (s *Set) Rule(id string) (*Rule, bool) {
	r, ok := s.byID[id]
	return r, ok
}

// Policy returns the set's policy (DefaultPolicy when no file has one). It
// is shared: do not modify it.
func (s *Set) Policy() *Policy { return s.policy }

// Files returns the rule files the set was loaded from, as named in errors.
func (s *Set) Files() []string { return slices.Clone(s.files) }

// Load loads every rule file (*.yaml, *.yml) directly in dir — not in
// sub-folders such as tests/, and not hidden files (".x.yaml") or editor
// leftovers ("#x.yaml#") — compiles every rule and validates the set. All
// problems of all files are returned together (see LoadError).
//
// Only regular files are read, each up to 1 MiB; a symbolic link is
// followed only to a regular file inside dir. Anything else (a FIFO, a
// device, a link out of the folder, a larger file) is an error naming the
// file, and no error quotes the content of a file that is not a rule file.
func Load(dir string) (*Set, error) {
	folder, err := openFolder(dir)
	if err != nil {
		return nil, fmt.Errorf("loading rules %s: %w", dir, err)
	}
	defer folder.close()
	return load(folder, ".", func(name string) string { return filepath.Join(dir, name) })
}

// LoadFS is Load on a file system; dir is a path in fsys ("." for its root).
func LoadFS(fsys fs.FS, dir string) (*Set, error) {
	return load(fsys, dir, func(name string) string { return path.Join(dir, name) })
}

// Default loads the rule set shipped in the binary (rules/default).
func Default() (*Set, error) {
	return load(defaultFiles, "default", func(name string) string { return path.Join("rules/default", name) })
}

// DefaultFS returns the shipped rule files, rules and tests, rooted at the
// folder that holds them ("." is rules/default).
func DefaultFS() fs.FS {
	sub, err := fs.Sub(defaultFiles, "default")
	if err != nil { // cannot happen: "default" is a valid path
		return defaultFiles
	}
	return sub
}

// isRuleFile reports whether a folder entry is a rule (or test) file.
func isRuleFile(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "#") {
		return false
	}
	ext := path.Ext(name)
	return ext == ".yaml" || ext == ".yml"
}

func load(fsys fs.FS, dir string, display func(string) string) (*Set, error) {
	if err := featureCatalogue().err; err != nil {
		return nil, fmt.Errorf("loading rules %s: %w", display(""), err)
	}
	names, contents, err := readYAMLFiles(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("loading rules %s: %w", display(""), err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("loading rules %s: %w (*.yaml, *.yml)", display(""), ErrNoRuleFiles)
	}
	hash := sha256.New()
	var errs []error
	set := &Set{byID: make(map[string]*Rule)}
	var policy *Policy
	for i, name := range names {
		file := display(name)
		set.files = append(set.files, file)
		var n [8]byte
		hash.Write(binary.BigEndian.AppendUint64(n[:0], uint64(len(name))))
		hash.Write([]byte(name))
		hash.Write(binary.BigEndian.AppendUint64(n[:0], uint64(len(contents[i]))))
		hash.Write(contents[i])

		fp := &fileParser{file: file}
		rules, pol := fp.parse(contents[i])
		errs = append(errs, fp.errs...)
		for _, r := range rules {
			if prev, dup := set.byID[r.ID]; dup {
				errs = append(errs, &LoadError{File: file, Line: r.Line, Rule: r.ID, Field: "id",
					Msg: fmt.Sprintf("duplicate id; first defined at %s:%d", prev.File, prev.Line)})
				continue
			}
			set.byID[r.ID] = r
			set.rules = append(set.rules, r)
		}
		if pol != nil {
			if policy != nil {
				errs = append(errs, &LoadError{File: file, Line: pol.Line, Field: "policy",
					Msg: fmt.Sprintf("a second policy; the first is at %s:%d (only one file may have a policy)", policy.File, policy.Line)})
			} else {
				policy = pol
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if policy == nil {
		policy = DefaultPolicy()
	}
	set.policy = policy
	set.version = hex.EncodeToString(hash.Sum(nil))[:16]
	return set, nil
}

// fileParser reads one rule file, collecting every problem.
type fileParser struct {
	file string
	errs []error
}

func (p *fileParser) errorf(line int, rule, field, format string, args ...any) {
	p.errs = append(p.errs, &LoadError{File: p.file, Line: line, Rule: rule, Field: field, Msg: fmt.Sprintf(format, args...)})
}

var (
	yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	// yamlAnchorName is the one part of the YAML parser's messages that
	// quotes the document ("unknown anchor 'x' referenced").
	yamlAnchorName = regexp.MustCompile(`anchor '[^']*' `)
)

// parseYAML parses a document and returns its root, or nil after
// recording why not. A syntax error names the line and the problem, never
// the text: the file may not be a rule file at all.
func (p *fileParser) parseYAML(data []byte, what string) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := yamlAnchorName.ReplaceAllString(err.Error(), "anchor ")
		if m := yamlLineError.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			p.errorf(line, "", "", "%s", m[2])
		} else {
			p.errorf(0, "", "", "%s", strings.TrimPrefix(msg, "yaml: "))
		}
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.errorf(0, "", "", "empty file; want %s", what)
		return nil
	}
	return doc.Content[0]
}

// kindOf names the kind of a node without its value, for a node that may
// be anything (the root of a file that may not be a rule file).
func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode, yaml.MappingNode, yaml.AliasNode:
		return kindName(n)
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return "a scalar"
}

// mapping iterates a mapping node's keys, reporting duplicates and a
// non-mapping node.
func (p *fileParser) mapping(n *yaml.Node, rule, field string, fn func(key string, keyNode, value *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, rule, field, "want a mapping, got %s", kindName(n))
		return false
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if prev, dup := seen[k.Value]; dup {
			p.errorf(k.Line, rule, joinField(field, k.Value), "defined twice (first at line %d)", prev)
			continue
		}
		seen[k.Value] = k.Line
		fn(k.Value, k, v)
	}
	return true
}

func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

func (p *fileParser) str(n *yaml.Node, rule, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n.Line, rule, field, "want a string, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *fileParser) integer(n *yaml.Node, rule, field string) (int, bool) {
	var v int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		p.errorf(n.Line, rule, field, "want an integer, got %s", kindName(n))
		return 0, false
	}
	return v, true
}

func (p *fileParser) duration(n *yaml.Node, rule, field string) (time.Duration, bool) {
	s, ok := p.str(n, rule, field)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		p.errorf(n.Line, rule, field, "%q is not a positive Go duration such as 10m, 2h or 1h30m", s)
		return 0, false
	}
	return d, true
}

func (p *fileParser) list(n *yaml.Node, rule, field string, fn func(item *yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n.Line, rule, field, "want a list, got %s", kindName(n))
		return
	}
	for _, item := range n.Content {
		fn(item)
	}
}

// parse reads a rule file: `rules:` (a list) and optionally `policy:`.
// A file whose top level is not a mapping with one of them is not a rule
// file, and its error quotes nothing of it (not even its keys).
func (p *fileParser) parse(data []byte) ([]*Rule, *Policy) {
	const want = "rules: and/or policy:"
	root := p.parseYAML(data, want)
	if root == nil {
		return nil, nil
	}
	if !isRuleFileRoot(root) {
		got := kindOf(root)
		if root.Kind == yaml.MappingNode {
			got = "a mapping with neither"
		}
		p.errorf(root.Line, "", "", "not a rule file: want a mapping with %s, got %s", want, got)
		return nil, nil
	}
	var rules []*Rule
	var policy *Policy
	p.mapping(root, "", "", func(key string, k, v *yaml.Node) {
		switch key {
		case "rules":
			if v.Tag == "!!null" {
				return
			}
			p.list(v, "", "rules", func(item *yaml.Node) {
				if r := p.rule(item); r != nil {
					rules = append(rules, r)
				}
			})
		case "policy":
			policy = p.policy(k, v)
		default:
			p.errorf(k.Line, "", key, "unknown section; a rule file has rules: and optionally policy:")
		}
	})
	return rules, policy
}

// isRuleFileRoot reports whether a document's root is a mapping with a
// rules: or policy: key.
func isRuleFileRoot(root *yaml.Node) bool {
	if root.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i].Value; k == "rules" || k == "policy" {
			return true
		}
	}
	return false
}

var ruleIDPattern = regexp.MustCompile(`^[a-z0-9_]+$`)

// reservedIDs are names decisions already use for other things.
var reservedIDs = []string{LockRuleScore, schemas.ReasonLocked, schemas.ReasonSharedAddress, schemas.ReasonTrustedContext}

// rule parses and compiles one rule; nil when it has errors (recorded).
func (p *fileParser) rule(n *yaml.Node) *Rule {
	before := len(p.errs)
	r := &Rule{File: p.file, Line: n.Line, Mode: ModeActive}
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, "", "rules", "want a rule (a mapping), got %s", kindName(n))
		return nil
	}
	// The id first, so every other error can name the rule.
	label, hasID := "", false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "id" && !hasID {
			hasID = true
			v := n.Content[i+1]
			r.Line = n.Content[i].Line
			if id, ok := p.str(v, "", "id"); ok {
				switch {
				case !ruleIDPattern.MatchString(id):
					p.errorf(v.Line, "", "id", "%q must match [a-z0-9_]+", id)
				case len(id) > schemas.MaxRuleLen:
					p.errorf(v.Line, "", "id", "is %d characters, more than the %d allowed", len(id), schemas.MaxRuleLen)
				case slices.Contains(reservedIDs, id):
					p.errorf(v.Line, "", "id", "%q is reserved", id)
				}
				r.ID, label = id, id
			}
		}
	}
	if label == "" {
		label = fmt.Sprintf("at line %d", n.Line)
	}
	if !hasID {
		p.errorf(n.Line, label, "id", "required")
	}
	var whenNode, weightNode, scopeNode *yaml.Node
	p.mapping(n, label, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "id":
		case "description":
			r.Description, _ = p.str(v, label, key)
		case "when":
			whenNode = v
		case "weight":
			weightNode = v
			if w, ok := p.integer(v, label, key); ok {
				if w < -100 || w > 100 {
					p.errorf(v.Line, label, key, "%d is outside -100..100", w)
				}
				r.Weight = w
			}
		case "detail":
			if s, ok := p.str(v, label, key); ok {
				t, err := parseTemplate(s)
				if err != nil {
					p.errorf(v.Line, label, key, "%v", err)
				}
				r.detail = t
			}
		case "action":
			if s, ok := p.str(v, label, key); ok {
				switch a := Action(s); a {
				case ActionAllow, ActionChallenge, ActionLockout:
					r.Action = a
				default:
					p.errorf(v.Line, label, key, "%q is not one of allow, challenge, lockout", s)
				}
			}
		case "scope":
			scopeNode = v
			if s, ok := p.str(v, label, key); ok {
				if sc := schemas.LockScope(s); sc.Valid() {
					r.Scope = sc
				} else {
					p.errorf(v.Line, label, key, "%q is not one of %s", s, schemas.LockScopeNames())
				}
			}
		case "duration":
			r.Duration, _ = p.duration(v, label, key)
		case "tags":
			p.list(v, label, key, func(item *yaml.Node) {
				if s, ok := p.str(item, label, key); ok {
					r.Tags = append(r.Tags, s)
				}
			})
		case "mode":
			if s, ok := p.str(v, label, key); ok {
				switch m := Mode(s); m {
				case ModeActive, ModeShadow:
					r.Mode = m
				default:
					p.errorf(v.Line, label, key, "%q is not one of active, shadow", s)
				}
			}
		default:
			p.errorf(k.Line, label, key, "unknown field; a rule has id, description, when, weight, detail, action, scope, duration, tags, mode")
		}
	})
	if weightNode == nil {
		p.errorf(r.Line, label, "weight", "required")
	}
	if (r.Action == ActionAllow || r.Action == ActionChallenge) && (r.Scope != "" || r.Duration != 0) {
		p.errorf(r.Line, label, "scope", "scope and duration describe a lock and have no effect with action %s", r.Action)
	}
	if whenNode == nil {
		p.errorf(r.Line, label, "when", "required")
	} else if src, ok := p.str(whenNode, label, "when"); ok {
		r.When = src
		c, err := compileWhen(src)
		if err != nil {
			var ee *exprError
			errors.As(err, &ee)
			p.errorf(whenLine(whenNode, ee.line), label, "when", "%v", ee)
		} else {
			r.program, r.fast = c.program, c.fast
			if msg := checkDeviceScope(r.Scope, c); msg != "" {
				p.errorf(scopeNode.Line, label, "scope", "%s", msg)
			}
		}
	}
	if len(p.errs) > before {
		return nil
	}
	return r
}

// whenLine maps a line of an expression to its line in the file. Literal
// block scalars (when: |) keep their lines and start below the indicator;
// other styles fold lines, so the scalar's own line is the best answer.
func whenLine(n *yaml.Node, exprLine int) int {
	if n.Style&yaml.LiteralStyle != 0 {
		return n.Line + exprLine
	}
	if n.Style&yaml.FoldedStyle != 0 {
		return n.Line + 1
	}
	return n.Line
}

// policy parses a policy section, fills defaults and validates it.
func (p *fileParser) policy(key, n *yaml.Node) *Policy {
	before := len(p.errs)
	pol := DefaultPolicy()
	pol.File, pol.Line = p.file, key.Line
	lines := map[string]int{}
	p.mapping(n, "", "policy", func(name string, k, v *yaml.Node) {
		field := "policy." + name
		lines[name] = k.Line
		switch name {
		case "challenge_at":
			pol.ChallengeAt, _ = p.integer(v, "", field)
		case "lockout_at":
			pol.LockoutAt, _ = p.integer(v, "", field)
		case "default_scope":
			if s, ok := p.str(v, "", field); ok {
				pol.DefaultScope = schemas.LockScope(s)
			}
		case "lock_durations":
			pol.LockDurations = nil
			p.list(v, "", field, func(item *yaml.Node) {
				if d, ok := p.duration(item, "", field); ok {
					pol.LockDurations = append(pol.LockDurations, d)
				}
			})
		case "offence_reset_after":
			pol.OffenceResetAfter, _ = p.duration(v, "", field)
		case "trusted_context_max":
			if s, ok := p.str(v, "", field); ok {
				pol.TrustedContextMax = schemas.Verdict(s)
			}
		case "allow":
			pol.Allow = p.lists(v, field)
		case "deny":
			pol.Deny = p.lists(v, field)
		default:
			p.errorf(k.Line, "", field, "unknown field; a policy has challenge_at, lockout_at, default_scope, lock_durations, offence_reset_after, trusted_context_max, allow, deny")
		}
	})
	if len(p.errs) > before {
		return nil
	}
	for _, problem := range pol.validate() {
		line, ok := lines[problem.field]
		if !ok {
			line = key.Line
		}
		p.errorf(line, "", "policy", "%s", problem.msg)
	}
	if len(p.errs) > before {
		return nil
	}
	return pol
}

// userRef parses one entry of a users list: a user id of the default
// tenant, or {tenant: T, user: U} for a user of tenant T.
func (p *fileParser) userRef(n *yaml.Node, field string) (UserRef, bool) {
	var u UserRef
	if n.Kind != yaml.MappingNode {
		s, ok := p.str(n, "", field)
		u.UserID = s
		return u, ok && p.checkID(n.Line, field, "user id", s)
	}
	ok := p.mapping(n, "", field, func(name string, k, v *yaml.Node) {
		switch name {
		case "tenant":
			u.TenantID, _ = p.str(v, "", field+".tenant")
		case "user":
			u.UserID, _ = p.str(v, "", field+".user")
		default:
			p.errorf(k.Line, "", field+"."+name, "unknown field; want tenant, user")
		}
	})
	if !ok {
		return u, false
	}
	if u.TenantID == "" {
		p.errorf(n.Line, "", field, "an entry with no tenant; write the user id alone for the default tenant")
		return u, false
	}
	return u, p.checkID(n.Line, field, "tenant", u.TenantID) && p.checkID(n.Line, field, "user id", u.UserID)
}

// checkID reports a user id or tenant that no event can carry: empty, or
// with a control character (schemas.Validate refuses both).
func (p *fileParser) checkID(line int, field, what, s string) bool {
	switch {
	case s == "":
		p.errorf(line, "", field, "empty %s", what)
		return false
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		p.errorf(line, "", field, "%s %q has a control character", what, s)
		return false
	}
	return true
}

// lists parses allow: / deny: {cidrs, users, asns}.
func (p *fileParser) lists(n *yaml.Node, field string) Lists {
	var l Lists
	p.mapping(n, "", field, func(name string, k, v *yaml.Node) {
		sub := field + "." + name
		switch name {
		case "cidrs":
			p.list(v, "", sub, func(item *yaml.Node) {
				if s, ok := p.str(item, "", sub); ok {
					prefix, err := parsePrefix(s)
					if err != nil {
						p.errorf(item.Line, "", sub, "%q is not a CIDR or address", s)
						return
					}
					l.CIDRs = append(l.CIDRs, prefix)
				}
			})
		case "users":
			p.list(v, "", sub, func(item *yaml.Node) {
				if u, ok := p.userRef(item, sub); ok {
					l.Users = append(l.Users, u)
				}
			})
		case "asns":
			p.list(v, "", sub, func(item *yaml.Node) {
				if asn, ok := p.integer(item, "", sub); ok {
					if asn <= 0 {
						p.errorf(item.Line, "", sub, "%d is not an AS number", asn)
						return
					}
					l.ASNs = append(l.ASNs, asn)
				}
			})
		default:
			p.errorf(k.Line, "", sub, "unknown field; want cidrs, users, asns")
		}
	})
	if len(l.Users) > 0 {
		l.users = make(map[string]struct{}, len(l.Users))
		for _, u := range l.Users {
			l.users[schemas.UserKey(u.TenantID, u.UserID)] = struct{}{}
		}
	}
	if len(l.ASNs) > 0 {
		l.asns = make(map[int]struct{}, len(l.ASNs))
		for _, a := range l.ASNs {
			l.asns[a] = struct{}{}
		}
	}
	return l
}
