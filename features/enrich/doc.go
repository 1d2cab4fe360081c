// Package enrich adds to a login event's features what its address and
// user agent say: GeoIP2 City, ASN and Anonymous-IP databases, and the
// browser, OS, device type and automation of the user agent.
//
// Each GeoIP database is optional; without it its features keep their
// zero value and geo_known, asn_known or anon_known is false. Answers are
// cached (EnricherConfig.CacheEntries entries each) per address, behind
// that per database network, and per user-agent string, so the warm path
// does no lookup and no allocation. The caches whose misses are costly,
// per network (a database lookup) and per user agent (a parse), are
// ristretto caches, whose admission keeps one-off keys (an attack's
// addresses or random user agents) from pushing out the common ones; the
// address and network-name caches, whose misses cost a network-cache hit
// or a format, are set-associative caches with CLOCK replacement
// (assoc.go), where ristretto's admission cost more than it saved. Each
// database returns the network its answer holds for; the three answers
// hold together over the longest of the three networks (a range absent
// from a database counts as a network too), so an address of a network
// already cached costs cache lookups, not database lookups: the cached
// networks of one address family partition it, and the prefix lengths
// seen so far are tried, the last one to answer first. The /24 or /64
// name (network) is cached on its own. A cached address takes 64 bytes
// plus its place and AS, which all the addresses that share them share.
//
// device_key is the event's device_id when it has one, else 16 hex digits
// of a hash of browser family, major version, OS and device type (many
// users share such a key, so it is never a lock key).
package enrich
