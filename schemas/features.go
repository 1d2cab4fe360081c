package schemas

// Features is the typed environment every rule expression is compiled
// against and evaluated on: the event itself, its enrichment (GeoIP,
// device) and the behavioural state of its user, IP and device at the
// moment of the attempt. Window counts include the current attempt;
// "new_*" flags compare against what was known before it.
//
// The struct tags are the one place that says what a feature is; the
// feature catalogue (FeatureCatalogue) reads them once, and the rules'
// environment, docs/features.md and the login_events columns of the history
// all derive from it:
//   - expr: the name rules use (snake_case, unique);
//   - unit: the unit of a number (count, km, second, ...), if any;
//   - column: the login_events column that stores the feature, when it is
//     not the expr name; "-" for a feature the history does not store but
//     recomputes from the stored event (SetEventFeatures). The column's type
//     follows from the Go type: bool is UInt8, int is UInt32 (clamped to
//     0..2^32-1), float64 is Float64, string is String;
//   - group: the heading of docs/features.md the feature and the ones after
//     it fall under (on the first feature of a group);
//   - doc: one line saying what the feature means.
//
// Adding a feature is one field here with its tags, the code that computes
// it (package features) and a migration adding its column (see
// docs/features.md). A feature whose source is not configured (no GeoIP
// database) keeps its zero value and its *_known flag is false.
type Features struct {
	UserID        string `expr:"user_id" column:"-" group:"The attempt" doc:"account identifier, within its tenant"`
	IP            string `expr:"ip" column:"-" doc:"client address as sent by the gateway"`
	Network       string `expr:"network" doc:"the client's /24 (IPv4, and IPv6 that carries an IPv4 address) or /64 (IPv6) network"`
	IPv6          bool   `expr:"ipv6" doc:"the client address is IPv6"`
	Success       bool   `expr:"success" column:"-" doc:"the credential check succeeded"`
	Failure       bool   `expr:"failure" column:"-" doc:"the credential check failed"`
	FailureReason string `expr:"failure_reason" column:"-" doc:"bad_password, unknown_user, mfa_failed, locked, other or empty"`
	AuthMethod    string `expr:"auth_method" column:"-" doc:"password, mfa, sso, passkey, token or empty"`
	TenantID      string `expr:"tenant_id" column:"-" doc:"tenant of the account, empty for the default tenant; a user is (tenant_id, user_id)"`
	HourUTC       int    `expr:"hour_utc" unit:"hour" column:"-" doc:"hour of day of the attempt, UTC (0-23)"`

	GeoKnown         bool    `expr:"geo_known" group:"GeoIP City" doc:"a City database is loaded and has the address"`
	Country          string  `expr:"country" doc:"ISO 3166-1 alpha-2 country code"`
	Subdivision      string  `expr:"subdivision" doc:"ISO 3166-2 code of the first subdivision"`
	City             string  `expr:"city" doc:"English city name"`
	Latitude         float64 `expr:"latitude" unit:"degree" doc:"approximate latitude"`
	Longitude        float64 `expr:"longitude" unit:"degree" doc:"approximate longitude"`
	AccuracyRadiusKm int     `expr:"accuracy_radius_km" unit:"km" doc:"radius around the location the address is likely in"`
	TimeZone         string  `expr:"time_zone" doc:"IANA time zone of the location"`

	ASNKnown bool   `expr:"asn_known" group:"GeoIP ASN" doc:"an ASN database is loaded and has the address"`
	ASN      int    `expr:"asn" doc:"autonomous system number"`
	ASOrg    string `expr:"as_org" doc:"autonomous system organisation"`

	AnonKnown        bool `expr:"anon_known" group:"GeoIP Anonymous-IP" doc:"an Anonymous-IP database is loaded"`
	Anonymous        bool `expr:"anonymous" doc:"any of the anonymous flags below"`
	AnonymousVPN     bool `expr:"anonymous_vpn" doc:"a known VPN provider"`
	Hosting          bool `expr:"hosting" doc:"a hosting or cloud provider"`
	PublicProxy      bool `expr:"public_proxy" doc:"a public proxy"`
	TorExit          bool `expr:"tor_exit" doc:"a Tor exit node"`
	ResidentialProxy bool `expr:"residential_proxy" doc:"a residential proxy"`

	Browser      string `expr:"browser" group:"Device" doc:"browser or client family (Chrome, Firefox, curl, ...)"`
	BrowserMajor int    `expr:"browser_major" doc:"browser major version, 0 when unknown"`
	OS           string `expr:"os" doc:"operating system family"`
	DeviceType   string `expr:"device_type" doc:"desktop, mobile, tablet, bot or unknown"`
	Automation   bool   `expr:"automation" doc:"the user agent is a script, headless browser or crawler, or is missing"`
	DeviceKey    string `expr:"device_key" doc:"device_id when sent, else a hash of the parsed user agent"`
	HasDeviceID  bool   `expr:"has_device_id" doc:"the gateway sent a device_id"`

	UserFailures1m           int     `expr:"user_failures_1m" unit:"count" group:"Per user (tenant_id and user_id)" doc:"failures for the user in the last minute"`
	UserFailures15m          int     `expr:"user_failures_15m" unit:"count" doc:"failures for the user in the last 15 minutes"`
	UserFailures1h           int     `expr:"user_failures_1h" unit:"count" doc:"failures for the user in the last hour"`
	UserFailures24h          int     `expr:"user_failures_24h" unit:"count" doc:"failures for the user in the last 24 hours"`
	UserSuccesses1m          int     `expr:"user_successes_1m" unit:"count" doc:"successes for the user in the last minute"`
	UserSuccesses15m         int     `expr:"user_successes_15m" unit:"count" doc:"successes for the user in the last 15 minutes"`
	UserSuccesses1h          int     `expr:"user_successes_1h" unit:"count" doc:"successes for the user in the last hour"`
	UserSuccesses24h         int     `expr:"user_successes_24h" unit:"count" doc:"successes for the user in the last 24 hours"`
	UserConsecutiveFailures  int     `expr:"user_consecutive_failures" unit:"count" doc:"failures since the user's last success, this attempt included"`
	UserNetworkFailures15m   int     `expr:"user_network_failures_15m" unit:"count" doc:"failures for the user from this attempt's network (/24 or /64) in the last 15 minutes"`
	UserMFAFailures15m       int     `expr:"user_mfa_failures_15m" unit:"count" doc:"failed second factors (auth_method mfa, outcome failure) for the user in the last 15 minutes, this attempt included; counts up to 16"`
	UserDistinctPasswords1h  int     `expr:"user_distinct_passwords_1h" unit:"count" doc:"distinct password fingerprints (password_fp) among the user's failed password checks in the last hour, this attempt included (many: guessing); counts up to 16; 0 without password_fp"`
	UserDistinctPasswords24h int     `expr:"user_distinct_passwords_24h" unit:"count" doc:"the same over the last 24 hours; counts up to 16"`
	PasswordRepeated         bool    `expr:"password_repeated" doc:"a failed password check whose password_fp equals one of the user's failures from this network (/24 or /64) in the last 24 hours: the same wrong password retried, which does not add to user_failures_*, user_network_failures_*, user_consecutive_failures, user_failures_7d or user_failed_networks_7d"`
	TrustedDevice            bool    `expr:"trusted_device" doc:"the device_id sent is one of the user's trusted devices (an allowed success with it, seen within the trust retention)"`
	TrustedNetwork           bool    `expr:"trusted_network" doc:"the /24 or /64 is one of the user's trusted networks (an allowed success from it, seen within the trust retention)"`
	UserDistinctIPs1h        int     `expr:"user_distinct_ips_1h" unit:"count" doc:"distinct source addresses (IPv4 addresses, IPv6 /64s) that tried the user in the last hour (exact up to 64; 64 beyond)"`
	UserFailures7d           int     `expr:"user_failures_7d" unit:"count" doc:"failures for the user in the last 7 days, counted per UTC day and from the user's second failure within 24 hours (a lone typo is not kept); 0 on a success with no failure in 24 hours"`
	UserFailedNetworks7d     int     `expr:"user_failed_networks_7d" unit:"count" doc:"distinct networks (/24 or /64) the user failed from in the last 7 days, from the user's second failure within 24 hours (exact up to 64, estimated beyond); 0 on a success with no failure in 24 hours"`
	UserNetworkFailures24h   int     `expr:"user_network_failures_24h" unit:"count" doc:"failures for the user from this attempt's network in the last 24 hours, from the user's third failure within 24 hours; 0 on a success with no failure in 24 hours"`
	UserNetworkSuccesses24h  int     `expr:"user_network_successes_24h" unit:"count" doc:"successes for the user from this attempt's network in the last 24 hours, counted once user_network_failures_24h has started (this attempt included); 0 on a success with no failure in 24 hours"`
	UserNetworkFailures7d    int     `expr:"user_network_failures_7d" unit:"count" doc:"failures for the user from this attempt's network in the last 7 days, counted per UTC day, from the user's third failure within 24 hours; 0 on a success with no failure in 24 hours"`
	UserNetworkSuccesses7d   int     `expr:"user_network_successes_7d" unit:"count" doc:"successes for the user from this attempt's network in the last 7 days, counted per UTC day once user_network_failures_7d has started (this attempt included); 0 on a success with no failure in 24 hours"`
	UserKnown                bool    `expr:"user_known" doc:"the user has an allowed successful login on record"`
	UserSuccessesTotal       int     `expr:"user_successes_total" unit:"count" doc:"allowed successful logins on record for the user, before this attempt"`
	NewCountry               bool    `expr:"new_country" doc:"the country is known and the user never had an allowed success from it"`
	NewCity                  bool    `expr:"new_city" doc:"the city is known and the user never had an allowed success from it"`
	NewASN                   bool    `expr:"new_asn" doc:"the ASN is known and the user never had an allowed success from it"`
	NewDevice                bool    `expr:"new_device" doc:"the user never had an allowed success with this device key"`
	NewNetwork               bool    `expr:"new_network" doc:"the user never had an allowed success from this /24 or /64"`
	SecondsSinceLastSuccess  float64 `expr:"seconds_since_last_success" unit:"second" doc:"time since the user's last allowed success, -1 when none"`
	TravelKm                 float64 `expr:"travel_km" unit:"km" doc:"great-circle distance from the last allowed success's location, 0 when unknown"`
	TravelSpeedKmh           float64 `expr:"travel_speed_kmh" unit:"km/h" doc:"travel_km divided by the time since the last allowed success, 0 when unknown"`
	FamiliarityRisk          float64 `expr:"familiarity_risk" unit:"score" doc:"how unfamiliar the attempt's context is to the user, 0-100: the weighted log-likelihood ratios below (docs/features.md, Familiarity); 0 before an allowed success"`
	FamiliarityNetworkBits   float64 `expr:"familiarity_network_bits" unit:"bit" doc:"log2 p(network | everyone) / p(network | user): above 0 rarer for this user than for everyone, below 0 familiar"`
	FamiliarityASNBits       float64 `expr:"familiarity_asn_bits" unit:"bit" doc:"log2 p(ASN | everyone) / p(ASN | user)"`
	FamiliarityCountryBits   float64 `expr:"familiarity_country_bits" unit:"bit" doc:"log2 p(country | everyone) / p(country | user)"`
	FamiliarityCityBits      float64 `expr:"familiarity_city_bits" unit:"bit" doc:"log2 p(city | everyone) / p(city | user)"`
	FamiliarityBrowserBits   float64 `expr:"familiarity_browser_bits" unit:"bit" doc:"log2 p(browser family and major | everyone) / p(browser family and major | user)"`
	FamiliarityOSBits        float64 `expr:"familiarity_os_bits" unit:"bit" doc:"log2 p(OS | everyone) / p(OS | user)"`
	FamiliarityDeviceBits    float64 `expr:"familiarity_device_bits" unit:"bit" doc:"log2 p(device key | everyone) / p(device key | user)"`
	FamiliarityHourBits      float64 `expr:"familiarity_hour_bits" unit:"bit" doc:"log2 p(hour of day | everyone) / p(hour of day | user)"`

	IPFailures1m       int     `expr:"ip_failures_1m" unit:"count" group:"Per IP (IPv6 grouped by /64)" doc:"failures from the address in the last minute"`
	IPFailures10m      int     `expr:"ip_failures_10m" unit:"count" doc:"failures from the address in the last 10 minutes"`
	IPFailures1h       int     `expr:"ip_failures_1h" unit:"count" doc:"failures from the address in the last hour"`
	IPAttempts1h       int     `expr:"ip_attempts_1h" unit:"count" doc:"attempts from the address in the last hour"`
	IPDistinctUsers10m int     `expr:"ip_distinct_users_10m" unit:"count" doc:"distinct users tried from the address in the last 10 minutes (exact up to 64; beyond, a HyperLogLog estimate, about 3.3 % standard error, over 10 to 20 minutes)"`
	IPDistinctUsers1h  int     `expr:"ip_distinct_users_1h" unit:"count" doc:"distinct users tried from the address in the last hour (exact up to 64; beyond, a HyperLogLog estimate, about 3.3 % standard error, over 60 to 70 minutes)"`
	IPSuccessRatio1h   float64 `expr:"ip_success_ratio_1h" unit:"ratio" doc:"successes / attempts from the address in the last hour (0-1)"`
	// Sharing and attack signs of the address over a day and a week
	// (counted in 10-minute slots: exact to within one slot at the far end).
	IPFailures24h            int     `expr:"ip_failures_24h" unit:"count" doc:"failures from the address in the last 24 hours"`
	IPAttempts24h            int     `expr:"ip_attempts_24h" unit:"count" doc:"attempts from the address in the last 24 hours"`
	IPSuccessRatio24h        float64 `expr:"ip_success_ratio_24h" unit:"ratio" doc:"successes / attempts from the address in the last 24 hours (0-1)"`
	IPUnknownUserFailures24h int     `expr:"ip_unknown_user_failures_24h" unit:"count" doc:"failures for user names that do not exist (failure_reason unknown_user) from the address in the last 24 hours"`
	IPFailedUsers1h          int     `expr:"ip_failed_users_1h" unit:"count" doc:"distinct users who failed from the address in the last hour (exact up to 64, estimated beyond)"`
	IPSucceededUsers24h      int     `expr:"ip_succeeded_users_24h" unit:"count" doc:"distinct users who succeeded from the address in the last 24 hours (exact up to 64, estimated beyond)"`
	IPSucceededUsers7d       int     `expr:"ip_succeeded_users_7d" unit:"count" doc:"distinct users who succeeded from the address in the last 7 days (exact up to 64, estimated beyond)"`
	IPKnownDeviceUsers7d     int     `expr:"ip_known_device_users_7d" unit:"count" doc:"distinct users who succeeded from the address in the last 7 days on a device they are known to use (one of their profile's devices; exact up to 64)"`
	IPShared                 bool    `expr:"ip_shared" doc:"the address is shared (an office or carrier NAT, a campus): 10 or more users succeeded from it in 7 days and half or more of its attempts in 24 hours succeeded, or 10 or more succeeded on devices they are known to use and a fifth or more of its attempts in 24 hours succeeded; no address lock falls on it"`

	// Per network: the address's /24 (IPv4) or /64 (IPv6), the same
	// signs as the address's.
	NetFailures1h             int     `expr:"net_failures_1h" unit:"count" group:"Per network (IPv4 /24, IPv6 /64)" doc:"failures from the network in the last hour"`
	NetAttempts1h             int     `expr:"net_attempts_1h" unit:"count" doc:"attempts from the network in the last hour"`
	NetSuccessRatio1h         float64 `expr:"net_success_ratio_1h" unit:"ratio" doc:"successes / attempts from the network in the last hour (0-1)"`
	NetFailures24h            int     `expr:"net_failures_24h" unit:"count" doc:"failures from the network in the last 24 hours"`
	NetFailures7d             int     `expr:"net_failures_7d" unit:"count" doc:"failures from the network in the last 7 days, counted per UTC day"`
	NetAttempts24h            int     `expr:"net_attempts_24h" unit:"count" doc:"attempts from the network in the last 24 hours"`
	NetSuccessRatio24h        float64 `expr:"net_success_ratio_24h" unit:"ratio" doc:"successes / attempts from the network in the last 24 hours (0-1)"`
	NetUnknownUserFailures24h int     `expr:"net_unknown_user_failures_24h" unit:"count" doc:"unknown_user failures from the network in the last 24 hours"`
	NetFailedUsers1h          int     `expr:"net_failed_users_1h" unit:"count" doc:"distinct users who failed from the network in the last hour (exact up to 64, estimated beyond)"`
	NetSucceededUsers24h      int     `expr:"net_succeeded_users_24h" unit:"count" doc:"distinct users who succeeded from the network in the last 24 hours (exact up to 64, estimated beyond)"`
	NetSucceededUsers7d       int     `expr:"net_succeeded_users_7d" unit:"count" doc:"distinct users who succeeded from the network in the last 7 days (exact up to 64, estimated beyond)"`
	NetKnownDeviceUsers7d     int     `expr:"net_known_device_users_7d" unit:"count" doc:"distinct users who succeeded from the network in the last 7 days on a device they are known to use (exact up to 64)"`
	NetShared                 bool    `expr:"net_shared" doc:"the network is shared, by the thresholds of ip_shared"`
	NetworkHostile            bool    `expr:"network_hostile" doc:"an analyst confirmed an attack from this /24 or /64 in the last 30 days (a confirmed_attack label)"`

	// Per ASN, for hosting and anonymising networks only (anonymous, from
	// the Anonymous-IP database; 0 elsewhere): stuffing spread over a
	// hosting provider's many addresses.
	ASNFailures1h             int     `expr:"asn_failures_1h" unit:"count" group:"Per ASN (hosting and anonymising networks)" doc:"failures from the autonomous system in the last hour (hosting and anonymising networks only, else 0)"`
	ASNAttempts1h             int     `expr:"asn_attempts_1h" unit:"count" doc:"attempts from the autonomous system in the last hour"`
	ASNSuccessRatio1h         float64 `expr:"asn_success_ratio_1h" unit:"ratio" doc:"successes / attempts from the autonomous system in the last hour (0-1)"`
	ASNFailures24h            int     `expr:"asn_failures_24h" unit:"count" doc:"failures from the autonomous system in the last 24 hours"`
	ASNFailures7d             int     `expr:"asn_failures_7d" unit:"count" doc:"failures from the autonomous system in the last 7 days, counted per UTC day"`
	ASNAttempts24h            int     `expr:"asn_attempts_24h" unit:"count" doc:"attempts from the autonomous system in the last 24 hours"`
	ASNSuccessRatio24h        float64 `expr:"asn_success_ratio_24h" unit:"ratio" doc:"successes / attempts from the autonomous system in the last 24 hours (0-1)"`
	ASNUnknownUserFailures24h int     `expr:"asn_unknown_user_failures_24h" unit:"count" doc:"unknown_user failures from the autonomous system in the last 24 hours"`
	ASNFailedUsers1h          int     `expr:"asn_failed_users_1h" unit:"count" doc:"distinct users who failed from the autonomous system in the last hour (exact up to 64, estimated beyond)"`
	ASNSucceededUsers24h      int     `expr:"asn_succeeded_users_24h" unit:"count" doc:"distinct users who succeeded from the autonomous system in the last 24 hours (exact up to 64, estimated beyond)"`
	ASNSucceededUsers7d       int     `expr:"asn_succeeded_users_7d" unit:"count" doc:"distinct users who succeeded from the autonomous system in the last 7 days (exact up to 64, estimated beyond)"`

	PasswordDistinctUsers1h int `expr:"password_distinct_users_1h" unit:"count" group:"Per password fingerprint (password_fp)" doc:"distinct users, every tenant, whose password check failed with this attempt's password fingerprint in the last hour (one password over many accounts: a spray), this attempt's user included on a failure; on a success, the others who failed with the account's right password (the spray found it); exact up to 64, at least 64 beyond; 0 without password_fp"`

	DeviceDistinctUsers24h int `expr:"device_distinct_users_24h" unit:"count" group:"Per device key" doc:"distinct users seen with the device key in the last 24 hours (exact up to 64; 64 beyond)"`

	AttackMode               bool    `expr:"attack_mode" group:"Platform (attack mode)" doc:"the engine is in attack mode: platform-wide failures far above their baseline for this hour of the week (detection.md, Attack mode)"`
	PlatformFailures15m      int     `expr:"platform_failures_15m" unit:"count" doc:"failed logins on the whole platform, every tenant, in the last 15 minutes"`
	PlatformFailureRateRatio float64 `expr:"platform_failure_rate_ratio" unit:"ratio" doc:"platform_failures_15m over the failures expected in 15 minutes at this hour of the week"`
	PlatformFailureShare     float64 `expr:"platform_failure_share" unit:"ratio" doc:"failures / attempts on the platform in the last 15 minutes (0-1)"`
	PlatformUnknownUserShare float64 `expr:"platform_unknown_user_share" unit:"ratio" doc:"unknown_user failures / failures on the platform in the last 15 minutes (0-1)"`
	PlatformNeverFailRatio   float64 `expr:"platform_never_fail_ratio" unit:"ratio" doc:"failures on accounts that never fail, per attempt, in the last 15 minutes, over the same in the baseline"`
}
