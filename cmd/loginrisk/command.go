package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// newFlagSet returns a flag set that reports errors to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("loginrisk "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// command is the flag set of an engine subcommand: the common flags,
// then the subcommand's own, which it defines before Parse.
type command struct {
	*flag.FlagSet
	common commonFlags
	stderr io.Writer
}

// newCommand returns the flag set of the subcommand name, reporting
// errors to stderr, with the common flags registered on it.
func newCommand(name string, stderr io.Writer) *command {
	c := &command{FlagSet: newFlagSet(name, stderr), stderr: stderr}
	c.common.register(c.FlagSet)
	return c
}

// config builds the validated configuration from the parsed flags
// (commonFlags.configure): with --check-config, the verdict as an
// exitCode.
func (c *command) config(need needs) (Config, error) {
	return c.common.configure(c.FlagSet, c.stderr, need)
}

// parseConfig parses args and builds the validated configuration, for a
// subcommand with nothing to check in between.
func (c *command) parseConfig(args []string, need needs) (Config, error) {
	if err := c.Parse(args); err != nil {
		return Config{}, err
	}
	return c.config(need)
}

// eventsFlag defines --events, the NDJSON LoginEvents the command reads
// (openInput): a file, or - for standard input.
func (c *command) eventsFlag(required bool) *string {
	usage := "NDJSON `file` of LoginEvents, or - for standard input"
	if required {
		usage += " (required)"
	}
	return c.String("events", "", usage)
}

// usageError prints msg and the subcommand's flags on stderr and returns
// exit status 2, for a command line that lacks what the command needs.
func (c *command) usageError(msg string) error {
	fmt.Fprintln(c.stderr, c.Name()+": "+msg)
	c.Usage()
	return exitCode(2)
}

// quietLog is the log section of a command whose stderr is for its
// report or progress: library logs only from warn on, unless --log-level
// asks for more.
func (c *command) quietLog(l LogConfig) LogConfig {
	if c.common.logLevel == "" {
		l.Level = "warn"
	}
	return l
}

// commonFlags are the flags every engine subcommand shares; each one, when
// set, overrides the file and the environment.
type commonFlags struct {
	config        string
	checkConfig   bool
	rules         string
	kafkaBrokers  string
	clickhouseDSN string
	geoipCity     string
	geoipASN      string
	geoipAnon     string
	httpAddr      string
	logLevel      string
}

func (cf *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&cf.config, "config", "", "YAML configuration `file`")
	fs.BoolVar(&cf.checkConfig, "check-config", false, "validate the configuration, print what is wrong and exit")
	fs.StringVar(&cf.rules, "rules", "", "rules `dir` (default: the embedded rule set)")
	fs.StringVar(&cf.kafkaBrokers, "kafka-brokers", "", "comma-separated Kafka `brokers`")
	fs.StringVar(&cf.clickhouseDSN, "clickhouse-dsn", "", "ClickHouse `dsn` (clickhouse://host:9000/db)")
	fs.StringVar(&cf.geoipCity, "geoip-city", "", "GeoIP2 / GeoLite2 City `mmdb`")
	fs.StringVar(&cf.geoipASN, "geoip-asn", "", "GeoLite2 ASN `mmdb`")
	fs.StringVar(&cf.geoipAnon, "geoip-anonymous", "", "GeoIP2 Anonymous-IP `mmdb`")
	fs.StringVar(&cf.httpAddr, "http", "", "HTTP API listen `address` (empty string disables it)")
	fs.StringVar(&cf.logLevel, "log-level", "", "debug, info, warn or error")
}

// load builds the configuration: defaults, file, env, flags.
func (cf *commonFlags) load(fs *flag.FlagSet) (Config, error) {
	c := defaultConfig()
	if cf.config != "" {
		if err := c.loadFile(cf.config); err != nil {
			return c, err
		}
	}
	if err := c.envOverrides(os.LookupEnv); err != nil {
		return c, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["rules"] {
		c.Rules.Dir = cf.rules
	}
	if set["kafka-brokers"] {
		c.Kafka.Brokers = splitList(cf.kafkaBrokers)
	}
	if set["clickhouse-dsn"] {
		c.ClickHouse.DSN = DSN(cf.clickhouseDSN)
	}
	if set["geoip-city"] {
		c.GeoIP.CityPath = cf.geoipCity
	}
	if set["geoip-asn"] {
		c.GeoIP.ASNPath = cf.geoipASN
	}
	if set["geoip-anonymous"] {
		c.GeoIP.AnonymousPath = cf.geoipAnon
	}
	if set["http"] {
		c.HTTP.Addr = cf.httpAddr
	}
	if set["log-level"] {
		c.Log.Level = cf.logLevel
	}
	return c, nil
}

// configure builds the validated configuration of a subcommand whose flags
// are parsed. With --check-config it prints the verdict and returns an
// exitCode (0 when valid).
func (cf *commonFlags) configure(fs *flag.FlagSet, stderr io.Writer, need needs) (Config, error) {
	cfg, err := cf.load(fs)
	if err == nil {
		err = cfg.resolveSecrets()
	}
	if err == nil {
		err = cfg.Validate(need)
	}
	if cf.checkConfig {
		if err != nil {
			fmt.Fprintf(stderr, "configuration is invalid:\n%v\n", err)
			return cfg, exitCode(1)
		}
		fmt.Fprintln(stderr, "configuration is valid")
		return cfg, exitCode(0)
	}
	return cfg, err
}
