package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/openpdm/pdm/fleet"
	"github.com/openpdm/pdm/ingest"
	"github.com/openpdm/pdm/predict"
	"github.com/openpdm/pdm/rules"
	"github.com/openpdm/pdm/workorders"
)

// FleetConfig wires learning from the fleet's history (package fleet):
// failures per asset type, bulk history uploads, the type's model.
type FleetConfig struct {
	Store FleetStore
	// Train trains and stores a new version of a type's model (run in
	// Jobs; used only when Jobs is nil).
	Train func(ctx context.Context, assetType string, s fleet.Settings) (fleet.Version, fleet.Report, error)
	// Jobs runs trainings off the request path (cmd sets its lock and
	// lifetime).
	Jobs *fleet.Jobs
	// Writer writes uploaded history (the ingest pipeline's InfluxDB writer).
	Writer ingest.Writer
	// Scores gives an asset's latest fleet estimate (its health answer).
	Scores interface {
		Score(ctx context.Context, assetID string) (fleet.Score, error)
	}
	// MaxHistoryBytes limits one history upload (default 64 MiB).
	MaxHistoryBytes int64
	Now             func() time.Time
}

// FleetStore is what the fleet routes read and write; postgres.Store
// implements it.
type FleetStore interface {
	AddFailure(ctx context.Context, assetID string, failedAt time.Time) (fleet.Failure, bool, error)
	Failures(ctx context.Context, assetType string) ([]fleet.Failure, error)
	LatestModel(ctx context.Context, assetType string) (fleet.Version, error)
	// SetGateOverride sets (nil: takes back) a type's gate override.
	SetGateOverride(ctx context.Context, assetType string, o *fleet.GateOverride) error
}

// FleetFailureInput is a failure of an asset to record.
type FleetFailureInput struct {
	AssetID  string `json:"asset_id"`
	FailedAt string `json:"failed_at"`
}

// FleetTrainInput chooses what a training learns from; every field is
// optional (default: the latest model's settings, else the metrics 80 %
// of the failed units have before their failure, 1 h steps, 400 steps of
// history, cap 125 steps).
type FleetTrainInput struct {
	Metrics []string `json:"metrics"`
	Step    string   `json:"step"`
	History string   `json:"history"`
	Cap     int      `json:"cap_steps"`
	// Lead is the type's own order lead (default: the previous model's,
	// else PDM_FLEET_LEAD).
	Lead string `json:"lead"`
	// Settings are the operating-setting metrics among Metrics (default:
	// the metrics whose name contains "setting"): each reading is
	// normalised in its operating condition, found by clustering them.
	Settings []string `json:"settings"`
	// OrderMargin is the type's order rule: an order is raised when the
	// estimate less OrderMargin × the interval's half-width is within the
	// lead; 0 to 1 (0: the point estimate, 1: the lower bound; default:
	// the previous model's, else 0.7).
	OrderMargin *float64 `json:"order_margin"`
	// Trees adds gradient-boosted trees and their ensembles with the
	// ridge and kNN to the candidates (default: the previous model's,
	// else false).
	Trees *bool `json:"trees"`
}

// FleetCandidate is one model the training compared, with its
// cross-validated RMSE.
type FleetCandidate struct {
	Name        string  `json:"name"`
	RMSESeconds float64 `json:"rmse_seconds"`
}

// FleetModel is an asset type's current model and its validation figures.
type FleetModel struct {
	AssetType string    `json:"asset_type"`
	Version   int       `json:"version"`
	TrainedAt time.Time `json:"trained_at"`
	Kind      string    `json:"kind"`
	Metrics   []string  `json:"metrics"`
	Step      string    `json:"step"`
	Windows   []int     `json:"windows_steps"`
	// MinHistorySteps is the fewest steps of history an asset needs to
	// be estimated (fewer: short_history).
	MinHistorySteps int     `json:"min_history_steps"`
	CapSeconds      float64 `json:"cap_seconds"`
	Units           int     `json:"n_units"`
	TrainUnits      int     `json:"n_train_units"`
	CalibUnits      int     `json:"n_calibration_units"`
	Coverage        float64 `json:"coverage"`
	RMSESeconds     float64 `json:"validation_rmse_seconds"`
	// ValidationCoverage is the interval's coverage on held-out units
	// (one half calibrates, the other is scored, both ways).
	ValidationCoverage float64 `json:"validation_coverage"`
	// IntervalSeconds are the interval's half-widths for predictions in
	// each third of [0, cap].
	IntervalSeconds []float64 `json:"interval_seconds"`
	// LeadSeconds is the type's own order lead (null: PDM_FLEET_LEAD).
	LeadSeconds *float64 `json:"lead_seconds"`
	// OrderMargin is the type's order rule (see FleetTrainInput).
	OrderMargin float64          `json:"order_margin"`
	Candidates  []FleetCandidate `json:"candidates"`
	// Conditions is the number of operating conditions the model found
	// in Settings (1: none); Use are the metrics that make features (the
	// others are settings or constant).
	Settings   []string `json:"settings"`
	Conditions int      `json:"conditions"`
	Use        []string `json:"use"`
	// Trees tells whether the trees and ensembles were candidates.
	Trees bool `json:"trees"`
	// Gate is the version's validation gate: a version that fails it
	// gives estimates but raises no orders unless overridden.
	Gate FleetGate `json:"gate"`
	// Training is the type's latest training job, run by any replica
	// (null when none).
	Training *fleet.Job `json:"training"`
}

// FleetGate is a version's validation gate. Status is validated (it
// passed the rule: at least min_held_out_units failed units held out, a
// validation coverage of at least min_validation_coverage, a validation
// RMSE within the order lead), not_validated (it failed: reasons say
// how; it raises no orders) or overridden (it failed, and an operator's
// override lets it raise orders).
type FleetGate struct {
	Status       string              `json:"status"`
	RaisesOrders bool                `json:"raises_orders"`
	Passed       bool                `json:"passed"`
	Reasons      []fleet.GateReason  `json:"reasons"`
	Rule         fleet.GateRule      `json:"rule"`
	Override     *fleet.GateOverride `json:"override"`
}

// FleetGateInput sets or takes back a type's gate override: with
// override true the type's versions that fail the gate raise orders
// (note, required then, says why); false takes the override back.
type FleetGateInput struct {
	Override *bool  `json:"override"`
	Note     string `json:"note"`
}

func fleetGateOf(g *fleet.Gate) FleetGate {
	if g == nil {
		return FleetGate{Status: fleet.GateValidated, RaisesOrders: true, Passed: true, Reasons: []fleet.GateReason{}}
	}
	out := FleetGate{Status: g.Status(), RaisesOrders: g.OrdersAllowed(), Passed: g.Passed, Reasons: g.Reasons,
		Rule: g.Rule, Override: g.Override}
	if out.Reasons == nil {
		out.Reasons = []fleet.GateReason{}
	}
	return out
}

// FleetHistoryResult is what a history upload wrote: the readings (one
// per row), the values, the metrics as named in InfluxDB (a CSV's
// column names made metric names, in column order) and the first and
// last reading's time (for a CSV of cycles, To is the last cycle's:
// the failed_at of a unit that failed in it).
type FleetHistoryResult struct {
	Readings int        `json:"readings"`
	Values   int        `json:"values"`
	Metrics  []string   `json:"metrics"`
	From     *time.Time `json:"from"`
	To       *time.Time `json:"to"`
	// Step is the time between samples (cycles): ?step= when given, 1h
	// for cycles without it (the documented default), both with
	// StepInferred false; else the median spacing of the readings'
	// distinct times (StepInferred true); null when none of these is
	// known (fewer than two distinct times). Train with it ("step").
	Step         *string  `json:"step"`
	StepSeconds  *float64 `json:"step_seconds"`
	StepInferred bool     `json:"step_inferred"`
}

// medianSpacing is the median gap between the distinct times of rds
// (false with fewer than two).
func medianSpacing(rds []ingest.Reading) (time.Duration, bool) {
	ts := make([]time.Time, len(rds))
	for i, r := range rds {
		ts[i] = r.TS
	}
	return fleet.MedianGap(ts)
}

// FleetHealth is an asset's latest fleet-model estimate in its health
// answer. Status is ok, short_history (fewer steps than the model's
// longest window) or no_data; the remaining life and its 90 % interval
// (seconds, and readable) count from as_of, the end of the last step
// with data, and are null unless ok. ModelStatus is the model version's
// gate (validated, not_validated, overridden; model_reasons say why it
// is not validated; unknown when that version is gone) and RaisesOrders
// whether its estimates raise orders.
type FleetHealth struct {
	ModelVersion    int                `json:"model_version"`
	ModelStatus     string             `json:"model_status"`
	ModelReasons    []fleet.GateReason `json:"model_reasons"`
	RaisesOrders    bool               `json:"raises_orders"`
	Status          string             `json:"status"`
	ScoredAt        time.Time          `json:"scored_at"`
	AsOf            *time.Time         `json:"as_of"`
	RULSeconds      *float64           `json:"rul_seconds"`
	RUL             *string            `json:"rul"`
	RULLowerSeconds *float64           `json:"rul_lower_seconds"`
	RULUpperSeconds *float64           `json:"rul_upper_seconds"`
}

// fleetHealth is an asset's fleet block (nil when there is none or it
// cannot be read: the rest of the health answer stands without it).
func (s *Server) fleetHealth(ctx context.Context, assetID string) *FleetHealth {
	if s.cfg.Fleet.Scores == nil {
		return nil
	}
	sc, err := s.cfg.Fleet.Scores.Score(ctx, assetID)
	if err != nil {
		if !errors.Is(err, workorders.ErrNotFound) {
			s.log.WarnContext(ctx, "fleet score", "asset_id", assetID, "err", err)
		}
		return nil
	}
	g := fleetGateOf(sc.Gate)
	if sc.Gate == nil { // the version that scored is gone
		g = FleetGate{Status: "unknown", Reasons: []fleet.GateReason{}}
	}
	h := &FleetHealth{ModelVersion: sc.Version, ModelStatus: g.Status, ModelReasons: g.Reasons, RaisesOrders: g.RaisesOrders,
		Status: sc.Status, ScoredAt: sc.ScoredAt, AsOf: sc.AsOf, RULSeconds: sc.RUL, RULLowerSeconds: sc.Lower,
		RULUpperSeconds: sc.Upper}
	if sc.RUL != nil {
		r := predict.Readable(time.Duration(*sc.RUL * float64(time.Second)))
		h.RUL = &r
	}
	return h
}

// fleetSchemas are the schemas of this file's routes.
func fleetSchemas(m map[string]any) map[string]any {
	m["FleetFailureInput"] = FleetFailureInput{}
	m["FleetFailure"] = fleet.Failure{}
	m["FleetTrainInput"] = FleetTrainInput{}
	m["FleetModel"] = FleetModel{}
	m["FleetHistoryResult"] = FleetHistoryResult{}
	m["FleetHealth"] = FleetHealth{}
	m["FleetJob"] = fleet.Job{}
	m["FleetGate"] = FleetGate{}
	m["FleetGateInput"] = FleetGateInput{}
	return m
}

func fleetModelOf(v fleet.Version) FleetModel {
	step := v.Model.Spec.StepSeconds
	if step <= 0 {
		step = 1
	}
	out := FleetModel{AssetType: v.AssetType, Version: v.Version, TrainedAt: v.TrainedAt, Kind: v.Model.Kind,
		Metrics: v.Model.Spec.Metrics, Step: rules.Duration(time.Duration(step * float64(time.Second))).String(),
		Windows: v.Model.Spec.Windows, MinHistorySteps: v.Model.Spec.ScoreRows(), CapSeconds: v.Model.Spec.Cap * step, Units: v.Report.Units,
		TrainUnits: v.Report.TrainUnits, CalibUnits: v.Report.CalUnits, Coverage: v.Model.Coverage,
		RMSESeconds: v.Report.ValidationRMSE * step, ValidationCoverage: v.Report.ValidationCoverage,
		OrderMargin: v.Model.Margin(), Settings: v.Model.Spec.Settings, Conditions: v.Report.Conditions,
		Use: v.Model.Spec.Use, Trees: v.Model.WithTrees, Gate: fleetGateOf(v.Gate)}
	if out.Settings == nil {
		out.Settings = []string{}
	}
	if out.Use == nil {
		out.Use = out.Metrics
	}
	if out.Conditions == 0 {
		out.Conditions = 1
	}
	if v.Model.LeadSeconds > 0 {
		l := v.Model.LeadSeconds
		out.LeadSeconds = &l
	}
	for _, q := range v.Model.Intervals {
		out.IntervalSeconds = append(out.IntervalSeconds, q*step)
	}
	for name, e := range v.Report.CV {
		out.Candidates = append(out.Candidates, FleetCandidate{Name: name, RMSESeconds: e * step})
	}
	slices.SortFunc(out.Candidates, func(a, b FleetCandidate) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func checkAssetType(t string, p *workorders.Problems) {
	if strings.TrimSpace(t) == "" || len(t) > 64 || !utf8Printable(t) {
		p.Add("type", "an asset type: 1-64 printable characters")
	}
}

func utf8Printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// fleetRoutes: an asset type's failure history, bulk history uploads and
// the type's learnt remaining-life model.
func (s *Server) fleetRoutes() {
	fc := s.cfg.Fleet
	if fc.Store == nil {
		return
	}
	if fc.Jobs == nil && fc.Train != nil {
		fc.Jobs = &fleet.Jobs{Train: fc.Train, Log: s.log}
		if js, ok := fc.Store.(fleet.JobStore); ok {
			fc.Jobs.Store = js
		}
	}
	now := fc.Now
	if now == nil {
		now = time.Now
	}
	s.handle(Route{Method: "POST", Path: "/asset-types/:type/failures", Roles: planners(), Tag: "fleet",
		Summary: "Record a failure of an asset of the type (idempotent on asset and time: the same pair again answers 200 " +
			"with the stored failure); the fleet model learns from the readings before each failure",
		Body: "FleetFailureInput", Response: "FleetFailure", Status: http.StatusCreated}, func(c *gin.Context) {
		var in FleetFailureInput
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		ctx := c.Request.Context()
		typ := c.Param("type")
		var p workorders.Problems
		checkAssetType(typ, &p)
		var at time.Time
		switch ts, err := time.Parse(time.RFC3339Nano, in.FailedAt); {
		case in.FailedAt == "":
			p.Add("failed_at", "required (RFC 3339)")
		case err != nil:
			p.Add("failed_at", "not an RFC 3339 time")
		case ts.After(now().Add(5 * time.Minute)):
			p.AddSemantic("failed_at", "in the future")
		case ts.Year() < 1970:
			p.AddSemantic("failed_at", "before 1970")
		default:
			at = ts.UTC()
		}
		if in.AssetID == "" {
			p.Add("asset_id", "required")
		} else if a, err := s.svc.GetAsset(ctx, in.AssetID); err != nil {
			var ve *workorders.ValidationError
			switch {
			case errors.Is(err, workorders.ErrNotFound):
				p.AddSemantic("asset_id", "no such asset")
			case errors.As(err, &ve):
				p.Add("asset_id", "not a valid UUID")
			default:
				s.fail(c, err)
				return
			}
		} else if a.Type != typ {
			p.AddSemantic("asset_id", "the asset is of type %q, not %q", a.Type, typ)
		}
		if err := p.Err(); err != nil {
			s.fail(c, err)
			return
		}
		f, created, err := fc.Store.AddFailure(ctx, in.AssetID, at)
		status := http.StatusCreated
		if !created {
			status = http.StatusOK
		}
		s.ok(c, status, f, err)
	})
	s.handle(Route{Method: "GET", Path: "/asset-types/:type/failures", Roles: readers(), Tag: "fleet",
		Summary: "The type's failure history, oldest first: recorded failures, threshold orders (not rejected or cancelled) " +
			"and completed event and manual orders, none closed as no fault found, duplicate or not actionable",
		Response: "FleetFailureList"}, func(c *gin.Context) {
		var p workorders.Problems
		checkAssetType(c.Param("type"), &p)
		if err := p.Err(); err != nil {
			s.fail(c, err)
			return
		}
		out, err := fc.Store.Failures(c.Request.Context(), c.Param("type"))
		if out == nil {
			out = []fleet.Failure{}
		}
		s.ok(c, http.StatusOK, list(out, ""), err)
	})
	s.handle(Route{Method: "GET", Path: "/asset-types/:type/model", Roles: readers(), Tag: "fleet",
		Summary: "The type's current remaining-life model: version, trained_at, units, validation RMSE and interval coverage, " +
			"its validation gate (validated, not_validated with the reasons: it raises no orders, or overridden) and the " +
			"type's latest training job",
		Response: "FleetModel"}, func(c *gin.Context) {
		typ := c.Param("type")
		var p workorders.Problems
		checkAssetType(typ, &p)
		if err := p.Err(); err != nil {
			s.fail(c, err)
			return
		}
		v, err := fc.Store.LatestModel(c.Request.Context(), typ)
		if errors.Is(err, workorders.ErrNotFound) {
			writeError(c, http.StatusNotFound, "no_model", fmt.Sprintf("no model trained for asset type %q yet: "+
				"record failures (POST /api/v1/asset-types/{type}/failures) and train (POST .../model/train)", typ))
			return
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		m := fleetModelOf(v)
		if fc.Jobs != nil {
			job, ok, err := fc.Jobs.Latest(c.Request.Context(), typ)
			if err != nil {
				s.fail(c, err)
				return
			}
			if ok {
				m.Training = &job
			}
		}
		c.JSON(http.StatusOK, m)
	})
	s.handle(Route{Method: "PUT", Path: "/asset-types/:type/model/gate", Roles: planners(), Tag: "fleet",
		Summary: "Set the type's gate override ({\"override\": true, \"note\": why}: its versions that fail the validation " +
			"gate raise orders all the same, retrained ones too, until it is taken back with {\"override\": false}); " +
			"answers the model",
		Body: "FleetGateInput", Response: "FleetModel"}, func(c *gin.Context) {
		var in FleetGateInput
		if err := s.decode(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		typ := c.Param("type")
		var p workorders.Problems
		checkAssetType(typ, &p)
		switch {
		case in.Override == nil:
			p.Add("override", "required: true lets versions that fail the gate raise orders, false takes that back")
		case *in.Override && strings.TrimSpace(in.Note) == "":
			p.Add("note", "required with override true: why the type's orders should not wait for a validated model")
		}
		if len(in.Note) > 1000 || !utf8Printable(strings.NewReplacer("\n", "", "\t", "").Replace(in.Note)) {
			p.Add("note", "at most 1000 printable characters")
		}
		if err := p.Err(); err != nil {
			s.fail(c, err)
			return
		}
		ctx := c.Request.Context()
		if _, err := fc.Store.LatestModel(ctx, typ); errors.Is(err, workorders.ErrNotFound) {
			writeError(c, http.StatusNotFound, "no_model", fmt.Sprintf("no model trained for asset type %q yet", typ))
			return
		} else if err != nil {
			s.fail(c, err)
			return
		}
		var o *fleet.GateOverride
		if *in.Override {
			o = &fleet.GateOverride{By: userOf(c).Name, At: now().UTC(), Note: strings.TrimSpace(in.Note)}
		}
		if err := fc.Store.SetGateOverride(ctx, typ, o); err != nil {
			s.fail(c, err)
			return
		}
		v, err := fc.Store.LatestModel(ctx, typ)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.log.InfoContext(ctx, "fleet gate override", "asset_type", typ, "override", *in.Override, "by", userOf(c).Name)
		c.JSON(http.StatusOK, fleetModelOf(v))
	})
	s.handle(Route{Method: "POST", Path: "/asset-types/:type/model/train", Roles: planners(), Tag: "fleet",
		Summary: "Train a new version of the type's model from its failures and the history before each, and answer when it " +
			"is stored (the body is optional); the training runs as a job (POST .../model/jobs) that a closed connection " +
			"or a timeout does not end; 422 when fewer than 6 failures have enough history, 409 while one is under way",
		Body: "FleetTrainInput", Response: "FleetModel", Status: http.StatusCreated}, func(c *gin.Context) {
		job, ok := s.startTraining(c, fc, false)
		if !ok {
			return
		}
		job, err := fc.Jobs.Wait(c.Request.Context(), job.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		if err := job.Err(); err != nil {
			s.trainingFailed(c, err)
			return
		}
		v, err := fc.Store.LatestModel(c.Request.Context(), job.AssetType)
		if err != nil {
			s.fail(c, err)
			return
		}
		m := fleetModelOf(v)
		m.Training = &job
		c.JSON(http.StatusCreated, m)
	})
	s.handle(Route{Method: "POST", Path: "/asset-types/:type/model/jobs", Roles: planners(), Tag: "fleet",
		Summary: "Start training a new version of the type's model (the body is optional) and answer at once with the job: " +
			"follow it at GET .../model/jobs/{id} or in the model's training; 422 when the type has fewer than 6 failures, " +
			"409 while a training of the type is under way on any replica",
		Body: "FleetTrainInput", Response: "FleetJob", Status: http.StatusAccepted}, func(c *gin.Context) {
		job, ok := s.startTraining(c, fc, true)
		if !ok {
			return
		}
		c.Header("Location", apiPrefix+"/asset-types/"+url.PathEscape(job.AssetType)+"/model/jobs/"+job.ID)
		c.JSON(http.StatusAccepted, job)
	})
	s.handle(Route{Method: "GET", Path: "/asset-types/:type/model/jobs/:id", Roles: readers(), Tag: "fleet",
		Summary: "A training job, from any replica: waiting, running (with its phase and progress), succeeded (with the " +
			"model version it stored) or failed (with why: runner_lost when the replica running it stopped reporting)",
		Response: "FleetJob"}, func(c *gin.Context) {
		if fc.Jobs == nil {
			writeError(c, http.StatusNotImplemented, "not_implemented", "training is not configured on this server")
			return
		}
		job, err := fc.Jobs.Get(c.Request.Context(), c.Param("id"))
		if errors.Is(err, fleet.ErrJobNotFound) || (err == nil && job.AssetType != c.Param("type")) {
			writeError(c, http.StatusNotFound, "not_found", "no such training job of this asset type")
			return
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, job)
	})
	s.handle(Route{Method: "GET", Path: "/asset-types/:type/model/jobs", Roles: readers(), Tag: "fleet",
		Summary: "The type's latest training jobs, newest first (?limit=, default 20, at most 100)",
		Query:   []string{"limit"}, Response: "FleetJobList"}, func(c *gin.Context) {
		typ := c.Param("type")
		var p workorders.Problems
		checkAssetType(typ, &p)
		limit := 20
		if l := c.Query("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 || n > 100 {
				p.Add("limit", "an integer from 1 to 100")
			}
			limit = n
		}
		if err := p.Err(); err != nil {
			s.fail(c, err)
			return
		}
		if fc.Jobs == nil {
			writeError(c, http.StatusNotImplemented, "not_implemented", "training is not configured on this server")
			return
		}
		out, err := fc.Jobs.List(c.Request.Context(), typ, limit)
		if out == nil {
			out = []fleet.Job{}
		}
		s.ok(c, http.StatusOK, list(out, ""), err)
	})
	s.handle(Route{Method: "POST", Path: "/assets/:id/history", Roles: planners(), Tag: "fleet",
		Summary: "Upload a history of the asset's readings (Content-Type text/csv: a header and one row per time; a time column " +
			"ts, time or timestamp (RFC 3339 or Unix milliseconds) or a cycle column cycle or time_cycles (one cycle a step, " +
			"?step=1h, the last cycle at ?last=, default now); column names made metric names (Sensor 2: sensor_2), a unit " +
			"column left out, empty cells skipped; otherwise InfluxDB line protocol as on MQTT); written to InfluxDB as " +
			"telemetry. Every bad line is named and nothing is written then",
		Query: []string{"step", "last"}, Response: "FleetHistoryResult"}, func(c *gin.Context) {
		s.fleetHistory(c, fc, now)
	})
}

// startTraining checks a training's input and starts its job; false when
// it answered (bad input, a training under way). With countFailures, a
// type with too few failures is answered 422 before a job starts (the
// input is checked first, so its problems are the ones named).
func (s *Server) startTraining(c *gin.Context, fc FleetConfig, countFailures bool) (fleet.Job, bool) {
	if fc.Jobs == nil {
		writeError(c, http.StatusNotImplemented, "not_implemented", "training is not configured on this server")
		return fleet.Job{}, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		s.fail(c, workorders.Invalid("body", "larger than %d bytes", s.cfg.MaxBodyBytes))
		return fleet.Job{}, false
	}
	var in FleetTrainInput
	if len(bytes.TrimSpace(body)) > 0 {
		if err := s.decodeBytes(body, &in); err != nil {
			s.fail(c, err)
			return fleet.Job{}, false
		}
	}
	typ := c.Param("type")
	var p workorders.Problems
	checkAssetType(typ, &p)
	set := fleet.Settings{Metrics: in.Metrics, Settings: in.Settings, Cap: float64(in.Cap), Trees: in.Trees}
	for i, m := range in.Metrics {
		if !ingest.ValidMetricName(m) {
			p.Add(fmt.Sprintf("metrics[%d]", i), "a metric name: [a-z][a-z0-9_]{0,63}")
		}
	}
	for i, m := range in.Settings {
		if !ingest.ValidMetricName(m) {
			p.Add(fmt.Sprintf("settings[%d]", i), "a metric name: [a-z][a-z0-9_]{0,63}")
		} else if len(in.Metrics) > 0 && !slices.Contains(in.Metrics, m) {
			p.AddSemantic(fmt.Sprintf("settings[%d]", i), "not one of metrics")
		}
	}
	if len(in.Metrics) > 64 {
		p.Add("metrics", "at most 64")
	}
	parse := func(field, v string, min, max time.Duration) time.Duration {
		if v == "" {
			return 0
		}
		rd, err := rules.ParseDuration(v)
		d := rd.D()
		if err != nil {
			p.Add(field, "a duration such as 1h or 7d")
			return 0
		}
		if d < min || d > max {
			p.AddSemantic(field, "between %s and %s", rules.Duration(min), rules.Duration(max))
		}
		return d
	}
	set.Step = parse("step", in.Step, time.Second, 7*24*time.Hour)
	set.History = parse("history", in.History, time.Minute, 5*365*24*time.Hour)
	set.Lead = parse("lead", in.Lead, time.Minute, 366*24*time.Hour)
	if m := in.OrderMargin; m != nil {
		if *m < 0 || *m > 1 || math.IsNaN(*m) {
			p.AddSemantic("order_margin", "between 0 (the point estimate) and 1 (the lower bound)")
		}
		set.OrderMargin = m
	}
	if in.Cap < 0 || in.Cap > 10000 {
		p.AddSemantic("cap_steps", "between 1 and 10000 (0: default)")
	}
	if set.Step > 0 && set.History > 0 && set.History/set.Step > 20000 {
		p.AddSemantic("history", "at most 20,000 steps")
	}
	if err := p.Err(); err != nil {
		s.fail(c, err)
		return fleet.Job{}, false
	}
	if countFailures {
		fs, err := fc.Store.Failures(c.Request.Context(), typ)
		if err != nil {
			s.fail(c, err)
			return fleet.Job{}, false
		}
		if len(fs) < fleet.MinUnits {
			writeError(c, http.StatusUnprocessableEntity, "too_few_failures",
				fmt.Sprintf("%d failures, need %d: %v", len(fs), fleet.MinUnits, fleet.ErrTooFewUnits))
			return fleet.Job{}, false
		}
	}
	job, err := fc.Jobs.Start(c.Request.Context(), typ, set, userOf(c).Name)
	if errors.Is(err, fleet.ErrTraining) {
		writeError(c, http.StatusConflict, "training_under_way", fmt.Sprintf("a training of asset type %q is under way: "+
			"job %s (GET /api/v1/asset-types/{type}/model/jobs/%s)", typ, job.ID, job.ID))
		return fleet.Job{}, false
	}
	if err != nil {
		s.fail(c, err)
		return fleet.Job{}, false
	}
	return job, true
}

// trainingFailed answers a training's error.
func (s *Server) trainingFailed(c *gin.Context, err error) {
	switch code := fleet.JobCode(err); code {
	case "too_few_failures", "no_common_metrics", "nothing_varies":
		writeError(c, http.StatusUnprocessableEntity, code, err.Error())
	case "busy":
		writeError(c, http.StatusConflict, "training_under_way", err.Error())
	default:
		s.fail(c, err)
	}
}

func (s *Server) fleetHistory(c *gin.Context, fc FleetConfig, now func() time.Time) {
	if fc.Writer == nil {
		writeError(c, http.StatusNotImplemented, "not_implemented", "history upload is not configured on this server")
		return
	}
	ctx := c.Request.Context()
	a, err := s.svc.GetAsset(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	limit := fc.MaxHistoryBytes
	if limit <= 0 {
		limit = 64 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		s.fail(c, workorders.Invalid("body", "larger than %d bytes", limit))
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		s.fail(c, workorders.Invalid("body", "empty: CSV (text/csv) or line protocol required"))
		return
	}
	var rds []ingest.Reading
	var p workorders.Problems
	bad := 0
	t := now()
	var metrics []string
	var step time.Duration // ?step=, 0 when not given
	if v := c.Query("step"); v != "" {
		if d, err := rules.ParseDuration(v); err != nil || d.D() < time.Second || d.D() > 7*24*time.Hour {
			p.Add("step", "a duration from 1s to 7d such as 1h (the time between samples, or what one cycle stands for)")
		} else {
			step = d.D()
		}
	}
	if strings.HasPrefix(c.ContentType(), "text/csv") {
		cy := csvCycles{step: step}
		if cy.step <= 0 {
			cy.step = time.Hour // what a cycle stands for without ?step=
		}
		cy.last = t.Truncate(cy.step)
		if v := c.Query("last"); v != "" {
			if ts, err := time.Parse(time.RFC3339Nano, v); err != nil {
				p.Add("last", "an RFC 3339 time (when the last cycle was)")
			} else {
				cy.last = ts.UTC()
			}
		}
		var cycles bool
		rds, metrics, cycles, bad = decodeHistoryCSV(body, a.SiteCode, a.Code, cy, &p)
		if cycles && step <= 0 {
			step = cy.step
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for line := 1; sc.Scan(); line++ {
			l := bytes.TrimSpace(sc.Bytes())
			if len(l) == 0 || l[0] == '#' {
				continue
			}
			r, err := ingest.DecodeLineProtocol(a.SiteCode, a.Code, l, t)
			if err != nil {
				p.Add(fmt.Sprintf("line %d", line), "%v", err)
				if bad++; bad >= maxProblems {
					break
				}
				continue
			}
			rds = append(rds, r...)
			for _, x := range r {
				for _, m := range x.Metrics {
					if !slices.Contains(metrics, m.Name) {
						metrics = append(metrics, m.Name)
					}
				}
			}
		}
		if err := sc.Err(); err != nil {
			p.Add("body", "%v", err)
		}
	}
	for i, r := range rds {
		if bad >= maxProblems {
			break
		}
		if r.TS.After(t.Add(5 * time.Minute)) {
			p.AddSemantic(fmt.Sprintf("reading %d", i+1), "ts %s is in the future", r.TS.Format(time.RFC3339))
			bad++
		}
	}
	inferred := false
	if step <= 0 && c.Query("step") == "" && bad == 0 {
		step, inferred = medianSpacing(rds)
	}
	if err := p.Err(); err != nil {
		s.fail(c, err)
		return
	}
	res := FleetHistoryResult{Readings: len(rds), Metrics: metrics, StepInferred: inferred}
	if step > 0 {
		str, sec := rules.Duration(step).String(), step.Seconds()
		res.Step, res.StepSeconds = &str, &sec
	}
	if res.Metrics == nil {
		res.Metrics = []string{}
	}
	for i := 0; i < len(rds); i += 5000 {
		batch := rds[i:min(i+5000, len(rds))]
		if err := fc.Writer.Write(ctx, batch); err != nil {
			writeError(c, http.StatusServiceUnavailable, "unavailable", "the time-series store did not take the history: "+err.Error())
			return
		}
	}
	for _, r := range rds {
		res.Values += len(r.Metrics)
		ts := r.TS
		if res.From == nil || ts.Before(*res.From) {
			res.From = &ts
		}
		if res.To == nil || ts.After(*res.To) {
			res.To = &ts
		}
	}
	c.JSON(http.StatusOK, res)
}

// maxProblems bounds the problems one upload's answer names.
const maxProblems = 50

// csvCycles tells how a CSV's cycle numbers become times: cycle c is at
// last − (max cycle − c)·step, so the history's last cycle is at last.
type csvCycles struct {
	step time.Duration
	last time.Time
}

// timeColumns and cycleColumns are the names (normalised) a CSV's time
// column may have; unitColumns name a column that says which unit a row
// is of (CMAPSS's "unit"): not a metric, and one value per upload.
var (
	timeColumns  = []string{"ts", "time", "timestamp", "datetime"}
	cycleColumns = []string{"cycle", "cycles", "time_cycles", "time_in_cycles", "step"}
	unitColumns  = []string{"unit", "unit_number", "unit_id", "unit_nr", "engine", "engine_id", "id"}
)

// metricName makes a column name a metric name: lower case, every run of
// other characters than [a-z0-9] an underscore, none at either end, and
// "m_" before a leading digit ("Sensor 2" is sensor_2, "T24" t24, "(s.3)"
// s_3); "" when nothing is left.
func metricName(h string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(r)
		default:
			under = true
		}
	}
	n := b.String()
	if n != "" && n[0] >= '0' && n[0] <= '9' {
		n = "m_" + n
	}
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// decodeHistoryCSV reads a header and one row per time: one column of
// times (ts, time or timestamp: RFC 3339 or Unix milliseconds) or of
// cycle numbers (cycle, time_cycles...: one cycle a step, the last at
// cy.last), the others metrics, their names made metric names
// (metricName); a unit column (unit, engine, id...) is not a metric and
// must hold one value. It returns the readings, the metric names in
// column order, whether times are cycles and how many problems it
// recorded in p.
func decodeHistoryCSV(body []byte, site, asset string, cy csvCycles, p *workorders.Problems) ([]ingest.Reading, []string, bool, int) {
	r := csv.NewReader(bytes.NewReader(body))
	r.ReuseRecord = true
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	head, err := r.Read()
	if err != nil {
		p.Add("line 1", "a header ts,metric,... is required: %v", err)
		return nil, nil, false, 1
	}
	bad := 0
	timeCol, unitCol, cycles := -1, -1, false
	names := make([]string, len(head))
	seen := map[string]int{}
	for i, h := range head {
		n := metricName(h)
		switch {
		case timeCol < 0 && slices.Contains(timeColumns, n):
			timeCol = i
			continue
		case timeCol < 0 && slices.Contains(cycleColumns, n):
			timeCol, cycles = i, true
			continue
		case unitCol < 0 && slices.Contains(unitColumns, n):
			unitCol = i
			continue
		}
		if !ingest.ValidMetricName(n) {
			p.Add("line 1", "column %d: %q is not a metric name ([a-z][a-z0-9_]{0,63})", i+1, h)
			bad++
			continue
		}
		if j, dup := seen[n]; dup {
			p.Add("line 1", "columns %d and %d are both %s", j+1, i+1, n)
			bad++
			continue
		}
		seen[n] = i
		names[i] = n
	}
	if timeCol < 0 {
		p.Add("line 1", "the header needs a time column (ts, time or timestamp) or a cycle column (cycle, time_cycles) "+
			"and metric names")
		return nil, nil, false, bad + 1
	}
	var metrics []string
	for _, n := range names {
		if n != "" {
			metrics = append(metrics, n)
		}
	}
	if len(metrics) == 0 && bad == 0 {
		p.Add("line 1", "no metric columns")
		bad++
	}
	type row struct {
		rd    ingest.Reading
		cycle float64
	}
	var rows []row
	unit, maxCycle := "", math.Inf(-1)
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if bad >= maxProblems {
			break
		}
		if err != nil {
			p.Add(fmt.Sprintf("line %d", line), "%v", err)
			bad++
			continue
		}
		if len(rec) != len(head) {
			p.Add(fmt.Sprintf("line %d", line), "%d fields, the header has %d", len(rec), len(head))
			bad++
			continue
		}
		if unitCol >= 0 {
			u := strings.TrimSpace(rec[unitCol])
			if unit == "" {
				unit = u
			} else if u != unit {
				p.Add(fmt.Sprintf("line %d", line), "%s %q after %q: upload one unit's history per asset", head[unitCol], u, unit)
				bad++
				continue
			}
		}
		var rw row
		if cycles {
			c, err := strconv.ParseFloat(strings.TrimSpace(rec[timeCol]), 64)
			if err != nil || c != math.Trunc(c) || c < 0 || c > 1e7 {
				p.Add(fmt.Sprintf("line %d", line), "cycle %q: a whole number from 0 to 10,000,000", rec[timeCol])
				bad++
				continue
			}
			rw.cycle = c
			maxCycle = math.Max(maxCycle, c)
		} else {
			ts, ok := parseHistoryTS(rec[timeCol])
			switch {
			case !ok:
				p.Add(fmt.Sprintf("line %d", line), "ts %q: RFC 3339 or Unix milliseconds", rec[timeCol])
				bad++
				continue
			case ts.Before(time.Unix(86400, 0)):
				p.Add(fmt.Sprintf("line %d", line), "ts %q reads as %s: for cycle numbers name the column cycle",
					rec[timeCol], ts.Format(time.RFC3339Nano))
				bad++
				continue
			}
			rw.rd.TS = ts
		}
		rw.rd.Site, rw.rd.Asset = site, asset
		for i, v := range rec {
			if names[i] == "" {
				continue
			}
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				p.Add(fmt.Sprintf("line %d", line), "%s: %q is not a finite number", names[i], v)
				bad++
				continue
			}
			rw.rd.Metrics = append(rw.rd.Metrics, ingest.Metric{Name: names[i], Value: f})
		}
		if len(rw.rd.Metrics) > 0 {
			rows = append(rows, rw)
		}
	}
	out := make([]ingest.Reading, len(rows))
	for i, rw := range rows {
		if cycles {
			rw.rd.TS = cy.last.Add(-time.Duration(maxCycle-rw.cycle) * cy.step)
		}
		out[i] = rw.rd
	}
	return out, metrics, cycles, bad
}

func parseHistoryTS(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err == nil
}
