package enrich

import (
	"fmt"
	"strconv"

	"github.com/loginrisk/loginrisk/features/internal/keyhash"
	useragent "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
)

// The values of the device_type feature.
const (
	DeviceDesktop = "desktop"
	DeviceMobile  = "mobile"
	DeviceTablet  = "tablet"
	DeviceBot     = "bot"
	DeviceUnknown = "unknown"
)

// deviceInfo is what a user agent says, as cached per user-agent string.
type deviceInfo struct {
	browser    string
	major      int
	os         string
	deviceType string
	automation bool
	// key is the device_key used when the event has no device_id: a
	// hash of browser, major version, OS and device type.
	key string
}

// automationMarker is a token that identifies a non-human client: a
// script's HTTP library, a headless or driven browser, or a crawler.
// Tokens are lower case and match case-insensitively at a word start.
type automationMarker struct {
	token  string
	family string // the browser feature for this client
}

// automationMarkers is searched in order; the first match names the
// client. Headless browsers and crawlers come first because their user
// agents also carry ordinary browser tokens; Apache-HttpClient comes
// before Java because its user agent includes "(Java/17)".
var automationMarkers = [...]automationMarker{
	// Headless and driven browsers.
	{"headlesschrome", "HeadlessChrome"},
	{"phantomjs", "PhantomJS"},
	{"selenium", "Selenium"},
	{"webdriver", "WebDriver"},
	{"puppeteer", "Puppeteer"},
	{"playwright", "Playwright"},
	// Crawlers.
	{"googlebot", "Googlebot"},
	{"adsbot-google", "AdsBot-Google"},
	{"bingbot", "bingbot"},
	{"slurp", "Yahoo! Slurp"},
	{"duckduckbot", "DuckDuckBot"},
	{"baiduspider", "Baiduspider"},
	{"yandexbot", "YandexBot"},
	{"applebot", "Applebot"},
	{"facebookexternalhit", "facebookexternalhit"},
	{"ahrefsbot", "AhrefsBot"},
	{"semrushbot", "SemrushBot"},
	{"mj12bot", "MJ12bot"},
	{"petalbot", "PetalBot"},
	{"gptbot", "GPTBot"},
	{"claudebot", "ClaudeBot"},
	{"bytespider", "Bytespider"},
	{"amazonbot", "Amazonbot"},
	{"crawler", "crawler"},
	{"spider", "spider"},
	// HTTP libraries and command-line clients.
	{"curl/", "curl"},
	{"wget/", "Wget"},
	{"python-requests/", "python-requests"},
	{"python-urllib/", "Python-urllib"},
	{"python-httpx/", "python-httpx"},
	{"aiohttp/", "aiohttp"},
	{"go-http-client/", "Go-http-client"},
	{"okhttp/", "okhttp"},
	{"apache-httpclient/", "Apache-HttpClient"},
	{"java/", "Java"},
	{"libwww-perl/", "libwww-perl"},
	{"postmanruntime/", "PostmanRuntime"},
	{"insomnia/", "Insomnia"},
	{"httpie/", "HTTPie"},
	{"node-fetch/", "node-fetch"},
	{"axios/", "axios"},
	{"undici", "undici"},
	{"scrapy/", "Scrapy"},
	{"powershell/", "PowerShell"},
}

// parseDevice describes a user agent. It is the cold path of the device
// cache. The parser is github.com/medama-io/go-useragent: a trie built
// once from embedded data (no regular expressions, no files to ship),
// zero-allocation and sub-microsecond per parse, MIT-licensed and
// maintained (v1.2.5, September 2026). It knows browsers, OSes, device
// classes and common bots, but gives no name to script clients (curl,
// python-requests, ...), which automationMarkers adds on top.
func parseDevice(p *useragent.Parser, ua string) deviceInfo {
	var d deviceInfo
	if ua == "" {
		// No user agent at all: real browsers always send one.
		d.deviceType = DeviceUnknown
		d.automation = true
		d.key = deviceHash(d)
		return d
	}
	agent := p.Parse(ua)
	d.browser = string(agent.Browser())
	d.major = leadingInt(agent.BrowserVersion())
	d.os = string(agent.OS())
	switch agent.Device() {
	case agents.DeviceDesktop:
		d.deviceType = DeviceDesktop
	case agents.DeviceMobile:
		d.deviceType = DeviceMobile
	case agents.DeviceTablet:
		d.deviceType = DeviceTablet
	case agents.DeviceBot:
		d.deviceType = DeviceBot
		d.automation = true
	default: // TV, consoles and what the parser does not know
		d.deviceType = DeviceUnknown
	}
	for _, m := range automationMarkers {
		i := indexWordFold(ua, m.token)
		if i < 0 {
			continue
		}
		d.browser = m.family
		d.deviceType = DeviceBot
		d.automation = true
		rest := ua[i+len(m.token):]
		if len(rest) > 0 && rest[0] == '/' {
			rest = rest[1:]
		}
		if len(rest) > 0 && '0' <= rest[0] && rest[0] <= '9' {
			d.major = leadingInt(rest) // the client's own version, not the browser it embeds
		}
		break
	}
	d.key = deviceHash(d)
	return d
}

// deviceHash is the device key of a user agent without a device_id: 16
// hex digits of a hash of browser family, major version, OS and device
// type.
func deviceHash(d deviceInfo) string {
	h := keyhash.FNV(keyhash.FNVOffset, d.browser)
	h = keyhash.FNV(h, "\x00"+strconv.Itoa(d.major)+"\x00")
	h = keyhash.FNV(h, d.os)
	h = keyhash.FNV(h, "\x00")
	h = keyhash.FNV(h, d.deviceType)
	return fmt.Sprintf("%016x", keyhash.Mix64(h))
}

// leadingInt parses the decimal digits at the start of s (0 when none),
// saturating instead of overflowing.
func leadingInt(s string) int {
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > 1_000_000 {
			break
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// indexWordFold returns the index of the first occurrence of the lower-case
// ASCII token in s, ignoring ASCII case, that starts s or follows a
// character that is not a letter; -1 when there is none.
func indexWordFold(s, token string) int {
	for i := 0; i+len(token) <= len(s); i++ {
		if i > 0 && isLetter(s[i-1]) {
			continue
		}
		j := 0
		for ; j < len(token); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != token[j] {
				break
			}
		}
		if j == len(token) {
			return i
		}
	}
	return -1
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
