// Package features turns a login event into the feature vector the rules
// read (schemas.Features), in two packages joined only by the network
// keys kept here:
//
//   - features/enrich adds what the address and the user agent say
//     (GeoIP2 City, ASN and Anonymous-IP; browser, OS, device type,
//     automation); it holds no behaviour.
//   - features/state adds what the behaviour of the user, the address,
//     the network and the device says (Store: windows, distinct sets,
//     crowds, profiles, trusted contexts, familiarity).
//
// Both key addresses the same way: KeyAddr maps the transition addresses
// that carry an IPv4 address to it, and NetworkOf groups an address in
// its /24 or /64. The fixed hashes both use live in
// features/internal/keyhash.
package features
