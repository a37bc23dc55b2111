package workorders

// CSATKPI is customer satisfaction from the one-per-order survey of
// request orders completed in the period: the mean score (1-5), CSAT (the
// share of 4 and 5), the response rate (answers per completed request), per
// engineer and per site.
type CSATKPI struct {
	CSATFigures
	Engineers []CSATGroup `json:"engineers"`
	Sites     []CSATGroup `json:"sites"`
}

// CSATFigures are one group's survey figures.
type CSATFigures struct {
	Completed    int      `json:"completed"`
	Responses    int      `json:"responses"`
	ResponseRate *float64 `json:"response_rate"`
	MeanScore    *float64 `json:"mean_score"`
	CSAT         *float64 `json:"csat"`
}

// CSATGroup is the figures of one engineer (ID a user id) or site.
type CSATGroup struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	CSATFigures
}
