package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
)

// KafkaConfig is the kafka section: the adapter's settings
// (kafkastream.Config, which owns their defaults and checks) and the
// secrets as configured, which the command resolves (file:, env:) and
// hands to the adapter in streamConfig.
type KafkaConfig struct {
	kafkastream.Config `yaml:",inline"`
	// SASLPassword is kafkastream.Config.SASLPassword as configured.
	SASLPassword Secret `yaml:"sasl_password"`
	// DecisionKeys authenticate the decisions topic (HMAC-SHA-256): the
	// first signs, every one verifies. serve requires at least one, the
	// same on every instance (docs/security.md).
	DecisionKeys []DecisionKeyConfig `yaml:"decision_keys"`
}

// DecisionKeyConfig is one key of the decisions MAC: an id sent with each
// signed decision and a secret of at least 32 bytes.
type DecisionKeyConfig struct {
	ID     string `yaml:"id"`
	Secret Secret `yaml:"secret"`
}

// streamConfig is the Kafka adapter's configuration of this section, with
// the secrets (the logger is the caller's).
func (k KafkaConfig) streamConfig() kafkastream.Config {
	sc := k.Config
	sc.SASLPassword = string(k.SASLPassword)
	sc.DecisionKeys = k.decisionKeys()
	return sc
}

// decisionKeys returns the configured keys in the adapter's form.
func (k KafkaConfig) decisionKeys() []kafkastream.DecisionKey {
	out := make([]kafkastream.DecisionKey, len(k.DecisionKeys))
	for i, dk := range k.DecisionKeys {
		out[i] = kafkastream.DecisionKey{ID: dk.ID, Secret: []byte(dk.Secret)}
	}
	return out
}

// withRunDecisionKey gives a configuration without decision keys one
// random key for this process alone: for demo and bench, whose engine
// is the only reader of its decisions.
func (k *KafkaConfig) withRunDecisionKey() error {
	if len(k.DecisionKeys) > 0 {
		return nil
	}
	var b [kafkastream.MinDecisionKeyBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("generating a decision key: %w", err)
	}
	k.DecisionKeys = []DecisionKeyConfig{{ID: "run-" + hex.EncodeToString(b[:3]), Secret: Secret(hex.EncodeToString(b[:]))}}
	return nil
}

// resolveSecrets replaces the section's file: and env: references with
// their values.
func (k *KafkaConfig) resolveSecrets() error {
	var errs []error
	var err error
	if k.SASLPassword, err = k.SASLPassword.Resolve("kafka.sasl_password"); err != nil {
		errs = append(errs, err)
	}
	for i := range k.DecisionKeys {
		if k.DecisionKeys[i].Secret, err = k.DecisionKeys[i].Secret.Resolve(fmt.Sprintf("kafka.decision_keys[%d].secret", i)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// validate checks the section with the adapter's own checks: the
// settings always, the brokers when the subcommand needs Kafka, the
// decision keys when some are given or the subcommand shares decisions.
func (k KafkaConfig) validate(need needs) error {
	sc := k.streamConfig()
	errs := []error{sc.ValidateSettings()}
	if need&needKafka != 0 && len(sc.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("%w (--kafka-brokers or LOGINRISK_KAFKA_BROKERS)", kafkastream.ErrNoBrokers))
	}
	if len(sc.DecisionKeys) > 0 || need&needDecisionKeys != 0 {
		errs = append(errs, kafkastream.ValidateDecisionKeys(sc.DecisionKeys))
	}
	return errors.Join(errs...)
}
