package enrich

import (
	"regexp"
	"testing"

	"github.com/loginrisk/loginrisk/schemas"
)

func TestEnrichDevice(t *testing.T) {
	tests := []struct {
		name       string
		ua         string
		browser    string
		major      int
		os         string
		deviceType string
		automation bool
	}{
		{"Chrome on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", 131, "Windows", DeviceDesktop, false},
		{"Edge on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge", 131, "Windows", DeviceDesktop, false},
		{"Safari on iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari", 18, "iOS", DeviceMobile, false},
		{"Safari on iPad", "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", "Safari", 17, "iOS", DeviceTablet, false},
		{"Safari on macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari", 18, "MacOS", DeviceDesktop, false},
		{"Firefox on Linux", "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", "Firefox", 132, "Linux", DeviceDesktop, false},
		{"Chrome on Android", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome", 131, "Android", DeviceMobile, false},
		{"curl", "curl/8.10.1", "curl", 8, "", DeviceBot, true},
		{"Wget", "Wget/1.21.4", "Wget", 1, "", DeviceBot, true},
		{"python-requests", "python-requests/2.32.3", "python-requests", 2, "", DeviceBot, true},
		{"python-urllib", "Python-urllib/3.12", "Python-urllib", 3, "", DeviceBot, true},
		{"aiohttp", "Python/3.12 aiohttp/3.10.5", "aiohttp", 3, "", DeviceBot, true},
		{"Go-http-client", "Go-http-client/1.1", "Go-http-client", 1, "", DeviceBot, true},
		{"okhttp", "okhttp/4.12.0", "okhttp", 4, "", DeviceBot, true},
		{"Java", "Java/17.0.2", "Java", 17, "", DeviceBot, true},
		{"Apache HttpClient names itself, not Java", "Apache-HttpClient/4.5.14 (Java/17.0.2)", "Apache-HttpClient", 4, "", DeviceBot, true},
		{"libwww-perl", "libwww-perl/6.72", "libwww-perl", 6, "", DeviceBot, true},
		{"Postman", "PostmanRuntime/7.42.0", "PostmanRuntime", 7, "", DeviceBot, true},
		{"HeadlessChrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "HeadlessChrome", 131, "Linux", DeviceBot, true},
		{"PhantomJS", "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1", "PhantomJS", 2, "Linux", DeviceBot, true},
		{"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", 2, "", DeviceBot, true},
		{"bingbot", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot", 2, "", DeviceBot, true},
		{"empty user agent", "", "", 0, "", DeviceUnknown, true},
		{"unknown app", "AcmeBank/5.2 (build 1234)", "", 0, "", DeviceUnknown, false},
	}
	e := newTestEnricher(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := testEvent(t, "erin", "81.2.69.160", true, t0)
			ev.UserAgent = tt.ua
			var f schemas.Features
			e.Enrich(ev, &f)
			if f.Browser != tt.browser || f.BrowserMajor != tt.major || f.OS != tt.os || f.DeviceType != tt.deviceType || f.Automation != tt.automation {
				t.Errorf("got browser=%q major=%d os=%q type=%q automation=%v\nwant browser=%q major=%d os=%q type=%q automation=%v",
					f.Browser, f.BrowserMajor, f.OS, f.DeviceType, f.Automation, tt.browser, tt.major, tt.os, tt.deviceType, tt.automation)
			}
			if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(f.DeviceKey) || f.HasDeviceID {
				t.Errorf("device key %q has_device_id %v, want 16 hex digits and false", f.DeviceKey, f.HasDeviceID)
			}
		})
	}
}

func TestDeviceKey(t *testing.T) {
	const (
		chrome131   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
		chrome131b  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36"
		chrome132   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36"
		firefoxOnLx = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
	)
	e := newTestEnricher(t)
	key := func(ua, deviceID string) (string, bool) {
		ev := testEvent(t, "frank", "81.2.69.160", true, t0)
		ev.UserAgent, ev.DeviceID = ua, deviceID
		var f schemas.Features
		e.Enrich(ev, &f)
		return f.DeviceKey, f.HasDeviceID
	}
	base, _ := key(chrome131, "")
	tests := []struct {
		name       string
		ua, id     string
		sameAsBase bool
		wantKey    string
		wantHasID  bool
	}{
		{"same user agent", chrome131, "", true, "", false},
		{"another minor version", chrome131b, "", true, "", false},
		{"another major version", chrome132, "", false, "", false},
		{"another browser and OS", firefoxOnLx, "", false, "", false},
		{"device_id wins", chrome131, "visitor-42", false, "visitor-42", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, hasID := key(tt.ua, tt.id)
			if (got == base) != tt.sameAsBase || hasID != tt.wantHasID || (tt.wantKey != "" && got != tt.wantKey) {
				t.Errorf("key %q (has id %v), base %q", got, hasID, base)
			}
		})
	}
}

func TestIndexWordFold(t *testing.T) {
	tests := []struct {
		name, s, token string
		want           int
	}{
		{"start", "curl/8.1", "curl/", 0},
		{"case", "Mozilla HeadlessChrome/1", "headlesschrome", 8},
		{"after punctuation", "Apache (Java/17)", "java/", 8},
		{"inside a word", "Mozilla xcurl/1", "curl/", -1},
		{"absent", "Mozilla/5.0", "okhttp/", -1},
		{"longer than s", "cu", "curl/", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := indexWordFold(tt.s, tt.token); got != tt.want {
				t.Errorf("indexWordFold(%q, %q) = %d, want %d", tt.s, tt.token, got, tt.want)
			}
		})
	}
}
