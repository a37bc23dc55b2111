package workorders

// Collaboration on a job: comments with @mentions (comments.go), helpers
// asked to join a job, and transfers of a job to another engineer.

// Event types of collaboration.
const (
	// EventHelperAdded: an engineer was asked to help (data: helper_id,
	// helper_name).
	EventHelperAdded = "helper_added"
	// EventTransferRequested: the assignee asked to hand the job to
	// another engineer and a planner must approve (data: to_user_id).
	EventTransferRequested = "transfer_requested"
	// EventTransferred: the job changed engineer (data: from_user_id,
	// to_user_id, approved_by).
	EventTransferred = "transferred"
	// EventTransferRejected: a planner refused a transfer request.
	EventTransferRejected = "transfer_rejected"
)

// MentionItem is one comment that mentions a user, with the order it is
// on (GET /me/mentions).
type MentionItem struct {
	Event
	OrderNumber string `json:"order_number"`
	OrderTitle  string `json:"order_title"`
	// Visible is whether the mentioned user may open the order.
	Visible bool `json:"visible"`
}
