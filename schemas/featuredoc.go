package schemas

import (
	"fmt"
	"strings"
)

// featureDocIntro opens docs/features.md, before the tables.
const featureDocIntro = `# Feature catalogue

<!-- Generated from the struct tags of schemas.Features by
schemas.FeatureDoc; do not edit. Regenerate with
go run ./schemas/cataloguegen > docs/features.md (or make catalogue) -->

Rules are expressions over these names (github.com/expr-lang/expr, compiled
against ` + "`schemas.Features`" + `). Window counts include the attempt being
scored; ` + "`new_*`" + ` flags compare with what was known before it and are false
for a user without a previous success. Only a verified login teaches: the
profile behind ` + "`user_known`" + `, ` + "`new_*`" + `, ` + "`travel_*`" + ` and the trusted contexts
behind ` + "`trusted_*`" + ` learn from successes the engine allowed, never from a
challenged or refused one (a passed challenge teaches when the gateway's
` + "`auth_method: mfa`" + ` success is allowed). Trusted contexts are the client
device_ids and networks of those successes, kept 30 days after they were
last seen (features.TrustRetention); a ` + "`user_untrusted`" + ` lock spares them.
A feature whose source is not
configured (no GeoIP database) keeps its zero value and its ` + "`*_known`" + ` flag
is false. Windows use event time (` + "`occurred_at`" + `), never the wall clock.
How the windows are kept, and how exact they are, is in the documentation of
package features; performance figures are in features-performance.md.

Address and network features, and ip and user_ip locks, key an address
by the IPv4 address it carries when it is IPv4-mapped (` + "`::ffff:0:0/96`" + `),
NAT64 (` + "`64:ff9b::/96`" + `, the last 32 bits), 6to4 (` + "`2002::/16`" + `, bits 16-47)
or Teredo (` + "`2001::/32`" + `, the last 32 bits inverted): IPv4 clients behind
one NAT64 gateway or Teredo server are separate sources, not one /64. The
local-use NAT64 prefix ` + "`64:ff9b:1::/48`" + ` is kept as IPv6, because where
its IPv4 address sits depends on the operator's prefix length. Other IPv6
addresses are grouped by their /64. The ` + "`ip`" + ` feature is the address as sent.

A user is ` + "`(tenant_id, user_id)`" + `, an empty tenant being the default one:
the per-user features (windows, profile, travel) of ` + "`bob`" + ` of tenant ` + "`acme`" + `
never count the attempts of ` + "`bob`" + ` of tenant ` + "`globex`" + `. Address, network
and device features are global: they count every tenant's attempts, and
the same user id in two tenants is two users in their distinct-user
counts, so one address attacking two tenants is one attacker.

The password fingerprint features (` + "`user_distinct_passwords_*`" + `,
` + "`password_repeated`" + `, ` + "`password_distinct_users_1h`" + `) need the optional event
field ` + "`password_fp`" + ` (security.md, "Password fingerprints"); without it they
are 0 and false, and every failure counts as before. They read
fingerprints of failed password checks only (not of a second factor,
` + "`auth_method: mfa`" + `); a success's fingerprint is only looked up in the global
table, never kept. A user keeps the fingerprints of their last 16 failed
checks of 24 hours, in memory only, and the store the users who failed with
each fingerprint in the last hour (at most 262,144 fingerprints; at the
cap one that a single user failed with makes room). A failure that is
` + "`password_repeated`" + ` (the same fingerprint from the same /24 or /64 within 24
hours: a retried typo) is not added to the user's failure counts:
` + "`user_failures_*`" + `, ` + "`user_network_failures_15m`" + `, ` + "`user_consecutive_failures`" + `,
` + "`user_failures_7d`" + `, ` + "`user_failed_networks_7d`" + ` and ` + "`user_network_failures_24h`" + `
(the counts the lock rules read; rules/README.md). The address, network,
ASN and platform counts still count it. The fingerprints are never
written to history: after a restart they start again empty, so the
replayed day's failures each count, as without ` + "`password_fp`" + `.

Distinct counts marked "estimated beyond" are exact up to 64 members in
their window. Past that, a HyperLogLog sketch per time slot
(github.com/axiomhq/hyperloglog, precision 10: 1,024 registers, standard
error 1.04/√1024 ≈ 3.3 %) estimates them, and the slot straddling the
window's start counts whole (an hour is 60 to 70 minutes, 24 hours 24 to
28 hours, 7 days up to 7 days and 4 hours); the estimate may lag by 16
members, or a 16th of itself. The distinct users of an address
(` + "`ip_distinct_users_*`" + `) are estimated the same way past 64, from 10-minute
slots: the 10-minute count then covers 10 to 20 minutes. The 24-hour
counts of attempts and failures per address, network and ASN are kept in
10-minute buckets and exclude the bucket straddling the window's start;
the 7-day counts per network, ASN, account and account + network are kept
per UTC day. A network or ASN idle for a day whose week holds fewer than
10 failures is forgotten (its 7-day counts start again), so a one-off typo
costs a day of memory, not a week.

Every sign of attack or sharing kept per address is kept per network
(IPv4 /24, IPv6 /64) too, and per ASN for hosting and anonymising networks:
failures and attempts over an hour, a day and (network, ASN) a week, the
success ratio of the hour and the day, unknown_user failures, the users who
failed in the hour and who succeeded in a day and a week, and (network)
the users on known devices and ` + "`net_shared`" + `. The address's minute and
10-minute counts have no network twin: the network's counts are kept in
10-minute buckets, and a burst from a network shows in ` + "`net_failures_1h`" + `.

Sharing (` + "`ip_shared`" + `, ` + "`net_shared`" + `): 10 or more users succeeded from the
address (network) in 7 days and half or more of its attempts in 24 hours
succeeded; or 10 or more users succeeded from it on a device they are
known to use (` + "`ip_known_device_users_7d`" + `: a device of their profile, that
is of an earlier allowed success) and a fifth or more of its attempts in
24 hours succeeded. Known devices are the sign of a real crowd that an
attack from the same address does not dilute: an office whose colleagues
log in on their own laptops stays shared while someone sprays from its
NAT, so no address or network lock falls on it.

Every scored event is stored in the ` + "`login_events`" + ` table of the history
(history.md) with the features it was scored on, one column each; the
column is named in the tables below. A feature marked *from the event* is
not stored itself: it is recomputed from the stored event when the history
is read back.

## Adding a feature

Everything about a feature is said once, in the struct tags of its field of
` + "`schemas.Features`" + ` (schemas/features.go); the rules' environment, the
history's columns and this page derive from them. A new feature needs:

1. **The field and its tags** in ` + "`schemas.Features`" + `: ` + "`expr`" + ` (the name rules
   use), ` + "`unit`" + ` (for a number), ` + "`doc`" + ` (one line), and ` + "`column`" + ` only
   when the column is not named like the feature (` + "`column:\"-\"`" + ` for a
   feature computed from the event alone, set in
   ` + "`Features.SetEventFeatures`" + `). The column's type follows from the Go type:
   bool is UInt8, int is UInt32, float64 is Float64, string is String.
2. **The code that computes it**, in package features (enrichment or
   behavioural state).
3. **A migration** adding the column to ` + "`login_events`" + `: a new file
   schemas/clickhouse/migrations/NNNN_<name>.sql whose one statement is
   ` + "`ALTER TABLE login_events ADD COLUMN <column> <type>`" + ` (ClickHouse 18.16
   has no ` + "`ADD COLUMN IF NOT EXISTS`" + `, so keep it alone in its file: it
   applies whole or not at all). Rows stored before it read the feature as
   zero. A test compares the catalogue's columns and their types with the
   ones the migrations create on a real ClickHouse.
4. **This page**: ` + "`go run ./schemas/cataloguegen > docs/features.md`" + `; a test
   fails while it is out of date.

Nothing else lists the features: the rules, the detail templates, the rule
test cases and the history writer and reader find the new one by itself.
The tests then ask for what only a person can add: a scenario in which
package features computes the new feature (TestEveryFeatureIsFilled fails
while it is never set).
`

// featureDocFamiliarity closes docs/features.md: how the familiarity
// features are computed. Its table of weights and value spaces is checked
// against package features' own table by a test there.
const featureDocFamiliarity = `
## Familiarity

` + "`familiarity_risk`" + ` and the ` + "`familiarity_*_bits`" + ` features follow Freeman et
al., "Who Are You? A Statistical Approach to Measuring User Authenticity"
(NDSS 2016): each attribute of an attempt is scored by how much likelier its
value is for everyone than for this user, and the evidence is added up. The
weights start from the rba-algorithm of Wiefling et al. (IP 0.6, ASN 0.3,
country 0.1).

**What is counted.** Per user, the values seen on verified logins (a success
the engine allowed, Store.Learn, as for the profile): network (/24, /64), ASN,
country, city, browser family + major version, OS, device key, hour of day
(UTC, event time). For each attribute a user keeps the total, the number of
distinct values ever added, and the 4 most counted values (a new value takes
the place of the least counted one when it weighs at least as much). Counts
decay with a half-life of 30 days of event time, so an old home fades.
324 bytes per user with a verified login, allocated at the first one; the
population counts every verified login of every user: exactly (a table of
1,024 values per attribute, values beyond it in a sketch) for country,
browser, OS and hour, whose value spaces are small (about 250, a few
hundred, a few dozen, 24); in a count-min sketch for network, ASN, city and
device, whose value spaces do not fit: 8,192 blocks of 16 counters (1 MiB
each), a value adding to 7 counters of one block, so a count is never low
and is high by about 0.012 % of the attribute's total at most, with high
probability. The counters are atomic: no lock is taken for them. Population
counts do not decay.

**Probabilities.** For value v of attribute a, with the user's decayed count
c(v), total n and distinct values d, and the population's count C(v) and
total N:

    p(v | everyone) = (C(v) + 1) / (N + V_a)                  (add-one over a value space V_a)
    p(v | user)     = (c(v) + (d + 1) · p(v | everyone)) / (n + d + 1)   (Witten-Bell, backing off to everyone)

The Witten-Bell escape (d + 1) / (n + d + 1) is the chance that the user
shows a value not seen before: small for a user who always logs in from
home (d = 1), large for a consultant with forty cities. A never-seen value
scores log2((n + d + 1) / (d + 1)) bits whatever its population count.

**Per attribute**, ` + "`familiarity_<a>_bits`" + ` = log2 p(v | everyone) / p(v | user),
clamped to ±8 bits: above 0 the value is rarer for this user than for
everyone, below 0 it is familiar. 0 when the attempt does not know the
value, or the user has no verified login.

**Combined**, ` + "`familiarity_risk`" + ` = 100 × min(1, Σ_a w_a × max(0, bits_a) / 3.5).
Only unfamiliar evidence adds: a familiar city does not cancel a never-seen
device (a proxy in the victim's city is cheap, the victim's device is not).
3.5 weighted bits, for example a never-seen network and device for a user
with about 40 logins from one place, is 100.

| attribute | weight w_a | value space V_a | population counts |
| --- | --- | --- | --- |
| network | 0.30 | 16777216 | sketch |
| asn | 0.20 | 100000 | sketch |
| country | 0.05 | 250 | exact |
| city | 0.05 | 100000 | sketch |
| browser | 0.04 | 500 | exact |
| os | 0.03 | 50 | exact |
| device | 0.30 | 16777216 | sketch |
| hour | 0.03 | 24 | exact |

Network 0.30, ASN 0.20, country and city 0.05 each keep about the
rba-algorithm's proportions within 0.6 of the total; the device gets as
much as the network, because a stolen password comes without the victim's
device; the client and the hour, easy to copy or noisy, get little.

**Restart.** A warm start loads each user's profile (its networks, ASNs,
countries, cities and devices, spreading the successes on record evenly
over each list's values) and replays the last 24 hours of history, which
teaches the browser, OS and hour; successes at or before the loaded
profile's last success are not counted twice. Browser, OS and hour counts
older than 24 hours are therefore lost on a restart.
`

// FeatureDoc renders docs/features.md: every feature rules can use, by
// group, with its type, unit, history column and meaning, from the
// feature catalogue.
func FeatureDoc() (string, error) {
	features, err := FeatureCatalogue()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(featureDocIntro)
	group := ""
	for _, f := range features {
		if f.Group != group {
			group = f.Group
			fmt.Fprintf(&b, "\n## %s\n\n| feature | type | unit | column | meaning |\n| --- | --- | --- | --- | --- |\n", group)
		}
		column := "*from the event*"
		if f.Column != "" {
			column = fmt.Sprintf("`%s` %s", f.Column, f.ColumnType)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.Name, f.Type, f.Unit, column, strings.ReplaceAll(f.Doc, "|", `\|`))
	}
	b.WriteString(featureDocFamiliarity)
	return b.String(), nil
}
