package httpapi

import (
	"runtime"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/semaphore"
)

// admission bounds how many read requests (the order list, an order's
// detail and the engineers' /me/jobs) do their database work and encoding
// at once; the others wait in a FIFO queue (semaphore.Weighted serves
// waiters in arrival order). With many clients on few cores, unbounded
// concurrency lets every request share the CPU and the database with all
// the others, so a request's latency depends on whom it met (p99 many
// times p50); served in arrival order, each request waits about the mean
// and p99 approaches it.
type admission struct {
	sem *semaphore.Weighted // nil: unbounded
}

func newAdmission(slots int) admission {
	if slots == 0 {
		slots = 2 * runtime.GOMAXPROCS(0)
	}
	if slots < 0 {
		return admission{}
	}
	return admission{sem: semaphore.NewWeighted(int64(slots))}
}

// admitted wraps h: it runs once a slot is free, in arrival order; a
// request whose client goes away while it waits answers 503 and does no
// work.
func (s *Server) admitted(h gin.HandlerFunc) gin.HandlerFunc {
	sem := s.admit.sem
	if sem == nil {
		return h
	}
	return func(c *gin.Context) {
		if err := sem.Acquire(c.Request.Context(), 1); err != nil {
			s.fail(c, err)
			return
		}
		defer sem.Release(1)
		h(c)
	}
}
