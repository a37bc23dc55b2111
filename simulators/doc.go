// Package simulators owns the simulated fleet that proves the platform: the
// seeded, deterministic device models, their degradation profiles, the
// scenario files that describe a fleet, the ground truth of which asset
// fails when, and the fleet runner that publishes readings through a
// Publisher (the MQTT face is simulators/mqttpub, the Modbus face
// simulators/modbus). The evaluation of the platform's work orders against
// the truth lives in simulators/eval.
//
// # Device models
//
// A Model is one asset. Build it from an AssetSpec (code, Type, scenario
// start, Profile) and the scenario's seed:
//
//	types := simulators.BuiltinTypes() // pump, motor, fan
//	m, err := simulators.NewModel(seed, simulators.AssetSpec{
//		Code: "P-101", Type: types["pump"], Start: start,
//		Profile: simulators.Profile{
//			Name: "exponential", Degradation: simulators.Exponential,
//			Metric: "vibration_rms", FailureMode: "bearing_wear",
//			Onset: start.Add(6 * time.Hour), FailAt: start.Add(40 * time.Hour),
//			FailValue: 7.1,
//		},
//	})
//	v, ok := m.Value("vibration_rms", t)   // one metric; ok=false: no such metric or sensor silent
//	r, ok := m.Reading("SITE", t)          // ingest.Reading with every metric not silent at t
//	evs := m.Events(prev, t)               // device events with prev < ts <= t
//
// Every value is a pure function of (seed, asset code, spec, metric, t at
// millisecond resolution): no state, no generator, safe for concurrent use;
// the MQTT fleet and a Modbus device face asking about the same asset at
// the same time get the same number. Randomness comes from hashing those
// inputs (splitmix64), so noise, spikes and dropouts are reproducible.
//
// A value is built as
//
//	base·(1 + daily + seasonal)  (cyclic metrics only)
//	+ white noise + slow wander  (type's Noise and Wander × NoiseScale)
//	+ Fraction(t)·(FailValue − base)   (the degrading metric; Affects for others)
//	+ an occasional spike            (SpikeProb per reading and metric)
//
// clamped below at the metric's Min. Counters (running_hours) are the
// asset's initial count plus hours since the scenario start.
//
// Degradations: None (healthy); Linear wear (constant rate from Onset to
// FailValue at FailAt); Exponential bearing wear (excess grows as
// exp((t−Onset)/Tau)−1); Step fault (jump to FailValue at FailAt, with a
// critical device event). After FailAt a broken machine's degradation
// fraction keeps going up to 1.25 and holds. The failure time is thus the
// time the noise-free metric reaches FailValue: scenarios set FailValue to
// the critical limit of the rule meant to catch the failure.
//
// Healthy behaviours, combinable with any degradation: noise (NoiseScale),
// daily and seasonal cycles (DailyAmp, SeasonAmp, SeasonPeriod), single
// spikes (SpikeProb, SpikeScale), sensor dropout (Dropout: whole device or
// listed metrics silent for Length in some periods of length Every).
//
// # Scenarios, truth and the fleet
//
// ParseScenario reads a scenario (YAML; the built-in ones, demo, eval and
// load, are in scenarios/ and available through BuiltinScenario and
// LoadScenario), resolving relative times against a given now.
// Scenario.Truth gives the ground truth. NewFleet(scenario, publisher,
// opts) publishes the scenario's readings and events in simulated (event)
// time; Fleet.Run blocks until the scenario ends or ctx is done, and
// Fleet.Progress can be read while it runs.
package simulators
