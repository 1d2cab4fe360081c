package eval

import (
	"slices"

	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/schemas"
)

// Systems are the deciders an evaluation compares, in report order.
const (
	SystemEngine   = "engine"
	SystemFail2ban = "fail2ban"
)

// Tally accumulates, per kind and per system, what the decisions did to
// labelled attempts. Attempts must be added in event-time order.
type Tally struct {
	systems    []string
	kinds      map[string]*kindTally
	Unlabelled int // scored events without a label
}

type kindTally struct {
	attack    bool
	campaigns []string             // in order of first attempt
	bySystem  map[string]*sysTally // by system
}

// sysTally is one system's outcome on one kind.
type sysTally struct {
	attempts, challenged, lockedOut int
	successes, successesStopped     int
	users, lockedUsers              map[string]bool
	// campaignAttempts counts a campaign's attempts up to its detection;
	// detectedAt is that attempt's number (1-based), absent if never.
	campaignAttempts map[string]int
	detectedAt       map[string]int
	refused          map[string]bool // campaigns with an attempt locked out
}

// NewTally returns an empty tally comparing the named systems.
func NewTally(systems ...string) *Tally {
	return &Tally{systems: systems, kinds: map[string]*kindTally{}}
}

// Add records one attempt's verdicts, one per system in NewTally's order.
func (t *Tally) Add(ev *schemas.LoginEvent, l loadgen.Label, verdicts ...schemas.Verdict) {
	k := t.kinds[l.Kind]
	if k == nil {
		k = &kindTally{attack: l.Attack, bySystem: map[string]*sysTally{}}
		for _, s := range t.systems {
			k.bySystem[s] = &sysTally{users: map[string]bool{}, lockedUsers: map[string]bool{},
				campaignAttempts: map[string]int{}, detectedAt: map[string]int{}, refused: map[string]bool{}}
		}
		t.kinds[l.Kind] = k
	}
	k.attack = k.attack || l.Attack
	campaign := l.Campaign
	if campaign == "" {
		campaign = l.EventID // an attack without a campaign is its own
	}
	if l.Attack && !slices.Contains(k.campaigns, campaign) {
		k.campaigns = append(k.campaigns, campaign)
	}
	user := schemas.UserKey(ev.TenantID, ev.UserID)
	for i, s := range t.systems {
		st, v := k.bySystem[s], verdicts[i]
		st.attempts++
		st.users[user] = true
		stopped := v != schemas.VerdictAllow
		switch v {
		case schemas.VerdictChallenge:
			st.challenged++
		case schemas.VerdictLockout:
			st.lockedOut++
			st.lockedUsers[user] = true
		}
		if !l.Attack {
			continue
		}
		if v == schemas.VerdictLockout {
			st.refused[campaign] = true
		}
		if ev.Success() {
			st.successes++
			if stopped {
				st.successesStopped++
			}
		}
		if _, done := st.detectedAt[campaign]; !done {
			st.campaignAttempts[campaign]++
			if stopped {
				st.detectedAt[campaign] = st.campaignAttempts[campaign]
			}
		}
	}
}

// AttackRow is one attack kind's outcome under one system.
type AttackRow struct {
	Kind, System     string
	Campaigns        int
	Detected         int   // campaigns with an attempt challenged or refused
	Refused          int   // campaigns with an attempt refused (lockout)
	AttemptsToDetect []int // per detected campaign, in campaign order
	Successes        int   // attack attempts that had the right credentials
	SuccessesStopped int   // of those, challenged or refused
}

// MedianAttempts is the median of AttemptsToDetect (0 when none).
func (r AttackRow) MedianAttempts() float64 {
	if len(r.AttemptsToDetect) == 0 {
		return 0
	}
	s := slices.Clone(r.AttemptsToDetect)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return float64(s[len(s)/2])
	}
	return float64(s[len(s)/2-1]+s[len(s)/2]) / 2
}

// BenignRow is one genuine kind's outcome under one system.
type BenignRow struct {
	Kind, System string
	Attempts     int
	Users        int
	Challenged   int
	Lockouts     int // attempts refused
	LockedUsers  int // users refused at least once
}

// ChallengedPercent is the share of attempts challenged, in percent.
func (r BenignRow) ChallengedPercent() float64 {
	if r.Attempts == 0 {
		return 0
	}
	return 100 * float64(r.Challenged) / float64(r.Attempts)
}

// Rows returns the tally by kind (sorted by name) and system.
func (t *Tally) Rows() (attacks []AttackRow, benign []BenignRow) {
	names := make([]string, 0, len(t.kinds))
	for n := range t.kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		k := t.kinds[n]
		for _, s := range t.systems {
			st := k.bySystem[s]
			if !k.attack {
				benign = append(benign, BenignRow{Kind: n, System: s, Attempts: st.attempts, Users: len(st.users),
					Challenged: st.challenged, Lockouts: st.lockedOut, LockedUsers: len(st.lockedUsers)})
				continue
			}
			row := AttackRow{Kind: n, System: s, Campaigns: len(k.campaigns), Successes: st.successes, SuccessesStopped: st.successesStopped}
			for _, c := range k.campaigns {
				if at, ok := st.detectedAt[c]; ok {
					row.Detected++
					row.AttemptsToDetect = append(row.AttemptsToDetect, at)
				}
				if st.refused[c] {
					row.Refused++
				}
			}
			attacks = append(attacks, row)
		}
	}
	return attacks, benign
}
