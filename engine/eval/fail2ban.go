package eval

import (
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// Fail2banConfig is the baseline's jail: an address with MaxRetry failed
// logins within FindTime is banned for BanTime. The defaults are
// fail2ban's own (5 failures, 10 minutes, 10 minutes).
type Fail2banConfig struct {
	MaxRetry int
	FindTime time.Duration
	BanTime  time.Duration
}

func (c *Fail2banConfig) setDefaults() {
	if c.MaxRetry <= 0 {
		c.MaxRetry = 5
	}
	if c.FindTime <= 0 {
		c.FindTime = 10 * time.Minute
	}
	if c.BanTime <= 0 {
		c.BanTime = 10 * time.Minute
	}
}

// Fail2ban is the baseline the engine is compared with: per address, by
// event time, the way fail2ban watches an authentication log. A banned
// address's attempts never reach the login service, so they are refused
// and not counted; after a ban the address starts afresh.
type Fail2ban struct {
	cfg   Fail2banConfig
	addrs map[string]*jail
}

type jail struct {
	failures    []time.Time // within FindTime of the last one, oldest first
	bannedUntil time.Time
}

// NewFail2ban returns a baseline with cfg's jail (zero fields: defaults).
func NewFail2ban(cfg Fail2banConfig) *Fail2ban {
	cfg.setDefaults()
	return &Fail2ban{cfg: cfg, addrs: map[string]*jail{}}
}

// Decide returns the baseline's verdict on an attempt, given in event-time
// order: lockout while its address is banned, allow otherwise. A failure
// that makes MaxRetry within FindTime bans the address from then on (the
// failure itself got through).
func (f *Fail2ban) Decide(ev *schemas.LoginEvent) schemas.Verdict {
	key := ev.IP
	if ev.Addr.IsValid() {
		key = ev.Addr.String()
	}
	j := f.addrs[key]
	if j == nil {
		if ev.Success() {
			return schemas.VerdictAllow
		}
		j = &jail{}
		f.addrs[key] = j
	}
	at := ev.OccurredAt
	if at.Before(j.bannedUntil) {
		return schemas.VerdictLockout
	}
	if ev.Success() {
		return schemas.VerdictAllow
	}
	keep := j.failures[:0]
	for _, t := range j.failures {
		if at.Sub(t) < f.cfg.FindTime {
			keep = append(keep, t)
		}
	}
	j.failures = append(keep, at)
	if len(j.failures) >= f.cfg.MaxRetry {
		j.bannedUntil = at.Add(f.cfg.BanTime)
		j.failures = j.failures[:0]
	}
	return schemas.VerdictAllow
}
