package workorders

import (
	"fmt"
	"math"
	"time"
)

// LocationPoint is one position an engineer's phone reported. Phones
// buffer points while offline and send them later in one batch, so each
// carries its own time.
type LocationPoint struct {
	At        time.Time `json:"at" schema:"required"`
	Lat       float64   `json:"lat" schema:"required"`
	Lon       float64   `json:"lon" schema:"required"`
	AccuracyM *float64  `json:"accuracy_m" schema:"min=0,max=1000000"`
}

// MaxLocationBatch bounds one batch of location points.
const MaxLocationBatch = 2000

// ValidateLocationBatch checks every point of a batch (all problems at
// once): coordinates in range and times not more than 5 minutes ahead of
// now nor older than 30 days.
func ValidateLocationBatch(pts []LocationPoint, now time.Time) error {
	var p Problems
	if len(pts) == 0 {
		p.Add("points", "at least one point")
	}
	if len(pts) > MaxLocationBatch {
		p.Add("points", "at most %d points a batch", MaxLocationBatch)
	}
	for i, pt := range pts {
		f := fmt.Sprintf("points[%d]", i)
		if math.IsNaN(pt.Lat) || pt.Lat < -90 || pt.Lat > 90 {
			p.AddSemantic(f+".lat", "must be -90..90")
		}
		if math.IsNaN(pt.Lon) || pt.Lon < -180 || pt.Lon > 180 {
			p.AddSemantic(f+".lon", "must be -180..180")
		}
		switch {
		case pt.At.IsZero():
			p.Add(f+".at", "required")
		case pt.At.After(now.Add(5 * time.Minute)):
			p.AddSemantic(f+".at", "more than 5 minutes in the future")
		case pt.At.Before(now.Add(-30 * 24 * time.Hour)):
			p.AddSemantic(f+".at", "older than 30 days")
		}
	}
	return p.Err()
}
