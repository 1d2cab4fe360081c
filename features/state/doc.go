// Package state adds to a login event's features what the behaviour of
// the user, the address and the device says: sliding windows, distinct
// sets, crowds, profiles, trusted contexts and familiarity counts.
//
// Store keys state by user_id, by source (an IPv4 address, or the /64 of
// an IPv6 address, so an attacker rotating inside one /64 is one source)
// and by device key, in hash tables split into lock shards (table.go). Observe reads an
// attempt's features and records it in one step per key, under that
// key's shard lock; the user, the source and the device are locked one
// after the other, never two at once, so there is no lock order to get
// wrong, and each key's counts are consistent: of two concurrent attempts
// on one key, exactly one sees the other. Peek reads the same features
// without recording. The store runs nothing in the background, and no
// count lives in a cache that may drop it.
//
// All time is event time (occurred_at) at one-second resolution, never
// the wall clock, so replaying the same events gives the same features.
// A window of length w read for an attempt at time t covers (t-w, t] and
// includes the attempt itself.
//
// Exactness. A user keeps its last 64 attempts of the last 24 hours as
// exact 8-byte records (time, outcome, a 31-bit hash of the /24 or /64),
// a source its last 64 of the last hour. While a key has no more attempts
// than that, every count is exact. Attempts pushed out of the records go
// to one-minute buckets (for windows up to an hour) and one-hour buckets
// (for 24 hours), allocated for such busy keys only; a bucket counts in a
// window when it starts inside it, so a busy key's count can only be low,
// by at most the attempts of the one bucket that straddles the window's
// start (TestWindowAgainstReference checks this against brute force).
// Running sums over the buckets, and per-window cursors over the records
// (the first record inside each window and the failures from there on,
// moved forward as time passes), keep reads cheap: an in-order read
// costs a few comparisons; a late read counts from the records.
// user_network_failures_15m counts the exact records only. Distinct
// counts (user_distinct_ips_1h, ip_distinct_users_*,
// device_distinct_users_24h) keep up to 64 keys (32-bit hashes) with the
// time each was last seen, in that order (a count is a binary search),
// the least recently seen making room: they are exact up to 64 distinct
// keys in the window and at least 64 beyond; an address's users are
// estimated beyond 64 by a HyperLogLog ring of 10-minute slots, as the
// crowds' sets below (the 10-minute count then covers 10 to 20 minutes).
//
// Crowds. Per address, per network (IPv4 /24; an IPv6 /64 is its
// address's key already) and per ASN, the store keeps attempts, failures
// and unknown_user failures in 10-minute buckets over 24 hours (1 h and
// 24 h counts are exact to within the one bucket straddling the window's
// start), the users who failed in the last hour and the users who
// succeeded in the last 7 days (distinct sets as above, exact up to 64;
// beyond, a set that would drop a member still in its window starts
// HyperLogLog sketches per time slot, github.com/axiomhq/hyperloglog at
// precision 10, about 3.3 % standard error, and its count is their
// estimate: crowd_sketch.go, at most 4 Ki crowds with sketches).
// Networks and ASNs also keep failures per UTC day over 7 days (kept idle
// for the week only with 10 or more of them), accounts and account +
// network keys too (net_failures_7d, user_network_failures_7d, ...).
// Addresses and networks keep the users who succeeded on a device they
// are known to use (a device of their profile) over 7 days, exact up to
// 64. From them ip_shared / net_shared: 10 or more users succeeded in 7
// days and half or more of the attempts of 24 hours succeeded, or 10 or
// more succeeded on known devices and a fifth or more of the attempts
// succeeded (rules/README.md, "Shared addresses"). They live in tables of
// their own (crowd.go), one per kind of crowd, like the store's other
// tables (table.go) and capped by the cap of the keys they stand beside
// (see Caps); a key is kept for 7 days after its last attempt when two or
// more users succeeded from it or (a network, ASN or account) its week
// holds failures, else for a day. The
// warm-up replays a day of history (engine.WarmSpan), so after a restart
// the 7-day sets hold that day's users until the week refills.
//
// Out-of-order events. A late attempt is read at its own time (attempts
// after it do not count) and recorded in its place, so later attempts
// count it. Distinct sets keep only when a key was last seen, so a late
// attempt does not count keys seen only after it. For a busy key, a late
// read is approximate: spilled attempts later in its own bucket count,
// and buckets recycled since are gone. Consecutive failures follow arrival
// order; the last success is the latest by event time. An attempt older
// than a key's horizon (24 h for users and devices, 1 h for sources)
// before that key's newest is read but not recorded.
//
// Profiles. A user's allowed successful logins build a profile (Observe
// only counts an attempt in the windows; the engine calls Learn once it
// has allowed a success, so a challenged or refused success teaches
// nothing): up to 16 each of
// countries, cities ("country/city"), ASNs, device keys and networks
// (/24 or /64), each with first and last seen time and count, the least
// recently seen making room; values are kept as 32-bit hashes, so the
// chance that a new value passes for a known one is about 16 in 2^32.
// new_* are true only for a known value missing from the profile of a
// user with a previous success. The last success's place is kept to
// float32 precision (about a metre); an attempt from that same place has
// travel_km 0. LoadProfile seeds profiles from history at start-up;
// replaying the last day of events through Observe rebuilds the windows
// (and Learn, for the successes recorded as allowed, the trusted contexts).
//
// Trusted contexts (trust.go). Learn also trusts the success's
// client device_id and network (/24 or /64), up to 8 of each per user with
// first and last seen time, for TrustRetention (30 days) after they were
// last seen: trusted_device and trusted_network, which the engine's
// user_untrusted lock spares. Failed second factors (auth_method mfa,
// outcome failure) are remembered, up to 16, for user_mfa_failures_15m.
//
// Password fingerprints (passwords.go). A failed password check with a
// password_fp leaves its first 64 bits, with the attempt's network and
// time, in the user's memory (the last 16 of 24 hours, one record per
// fingerprint and network): user_distinct_passwords_*, and
// password_repeated, the same fingerprint from the same network, which
// read and update then leave out of the user's windows, consecutive
// failures and account crowds. A global table of fingerprints (at most
// DefaultMaxPasswords, for an hour) keeps the users who failed with each,
// as a distinct set: password_distinct_users_1h; a success's fingerprint
// is only read there. Nothing of it is written anywhere.
//
// Familiarity (familiarity.go). Each verified login (a success the
// engine allowed: Learn) also adds to the user's familiarity counts: per attribute (network,
// ASN, country, city, browser family and major, OS, device key, hour of
// day) a total, a count of distinct values and the 4 most counted values,
// decayed with a 30-day half-life of event time (324 bytes, allocated at
// the first verified login); and to the population's counts, exact for
// country, browser, OS and hour, blocked count-min sketches for the rest
// (popcounts.go), with atomic counters and no lock.
// familiarity_risk and the familiarity_*_bits features compare the two
// after Freeman et al. (NDSS 2016); docs/features.md, "Familiarity", has
// the formulas, smoothing and weights. LoadProfile seeds the counts of the
// profile's values; replayed successes at or before the loaded profile
// teach only browser, OS and hour, which profiles do not keep.
//
// Memory. Sweep, called periodically with the newest event time, drops a
// source idle for over an hour (its windows are empty), a device idle for
// Retention (25 h), the windows of a user idle for Retention, and the user
// itself once idle for StoreConfig.ProfileRetention (30 days by default;
// a user without a profile goes with its windows). Measured on the Go
// heap by BenchmarkStoreMemory (docs/features-performance.md): a user with
// one success and one failure takes about 820 bytes (460 before the
// familiarity counts), a user under attack
// (full records, buckets, 64 sources) 2.6 KiB, a source with five
// attempts by five users about 300 bytes, a device with one user about
// 130 bytes; a million users from 200,000 addresses, half with a
// device_id, take about 1 GiB in all.
//
// Caps. Each kind of key (users, IPv4 addresses, IPv6 /64 networks,
// devices) has a cap, StoreConfig.MaxUsers and the like, a million each
// by default. A new key at a cap takes the place of the least recently
// seen of a sample of 16 keys of its own shard that may go (looking at
// up to 64 slots; placement makes the shards even): a device always
// may; a user may not while it has a failure in the last 24 h, nor an
// address or network with one in the last hour, since those windows are
// the ones rules count failures over to lock. When none may go, the new
// key is refused: its attempt is scored against empty state (as a first
// attempt) and not recorded, and StoreStats.Refused counts it. Refusing
// rather than evicting a key with recent failures keeps an attacker
// from flushing a victim's failure counts with a flood of new keys; the
// price is that, while the flood's own failures fill the cap, new keys
// of that kind are not counted (keys of the other kinds are, each table
// having its own cap). The crowd tables follow the same rule with the
// caps of the keys they stand beside (addresses, networks, users for
// accounts and account + network; 1 Mi hosting ASNs): a crowd may not
// go while it has a failure in the span over which lock rules count its
// failures (crowdProtect: an hour for addresses, networks and ASNs, a
// day for an account + network, a week for an account); StoreStats
// counts CrowdsEvicted and CrowdsRefused. A sample can miss a key that may go elsewhere in
// the shard; the next new key's sample starts where this one stopped.
// Which key goes depends on the placement, so a replay that reaches a
// cap may differ between processes; below the caps it does not.
//
// Placement. The tables place keys by hash/maphash with a seed chosen
// per process, so no one can craft keys that share a shard or a probe
// (hash flooding); the fixed hashes above give only values that must be
// the same in every process (distinct-set keys, profile values, network
// tags). A shard that grows or empties moves to a new slot array a few
// slots per insertion, and Sweep holds a shard's lock for 256 slots at a
// time, so no call holds a lock for work that grows with the state.
package state
