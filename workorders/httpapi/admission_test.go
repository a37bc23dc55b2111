package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
)

// admissionServer serves GET /x through s.admitted(h) with slots slots.
func admissionServer(slots int, h gin.HandlerFunc) *gin.Engine {
	s := &Server{admit: newAdmission(slots)}
	e := gin.New()
	e.GET("/x", s.admitted(h))
	return e
}

func TestAdmissionBoundsConcurrentReads(t *testing.T) {
	release := make(chan struct{})
	var running, most atomic.Int32
	var mu sync.Mutex
	var order []int
	e := admissionServer(2, func(c *gin.Context) {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		mu.Lock()
		order = append(order, len(order))
		mu.Unlock()
		<-release
		running.Add(-1)
		c.Status(http.StatusOK)
	})
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := httptest.NewRecorder()
			e.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
			codes[i] = w.Code
		}()
	}
	require.Eventually(t, func() bool { return running.Load() == 2 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	require.EqualValues(t, 2, most.Load(), "never more than the slots at once")
	require.Len(t, order, n, "every waiting request is served once a slot frees")
	for i, c := range codes {
		require.Equal(t, http.StatusOK, c, "request %d", i)
	}
}

func TestAdmissionGivesUpWhenTheClientLeaves(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	var calls atomic.Int32
	e := admissionServer(1, func(c *gin.Context) {
		calls.Add(1)
		<-hold
	})
	go e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil).WithContext(ctx))
	}()
	cancel()
	<-done
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Contains(t, w.Body.String(), `"unavailable"`)
	require.EqualValues(t, 1, calls.Load(), "the abandoned request did no work")
}

func TestAdmissionUnbounded(t *testing.T) {
	require.Nil(t, newAdmission(-1).sem)
	require.NotNil(t, newAdmission(0).sem)
}
