package coupon

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/yutang/yutang/domain"
)

// Other ways coupons reach shoppers: redeem codes, bulk issue jobs, and
// budgets that stores, clerks and KOCs hand out of.

// IssueStore is what codes, bulk jobs and budgets need besides Store.
type IssueStore interface {
	Store
	// AddCodes stores codes of a template as the next batch and returns
	// how many were new (a code already taken anywhere is skipped).
	AddCodes(ctx context.Context, templateID int64, batch int, codes []string) (int, error)
	NextBatch(ctx context.Context, templateID int64) (int, error)
	Codes(ctx context.Context, templateID int64, batch int, page domain.Page) ([]Code, string, error)
	// TakeGuess counts one code attempt of the shopper in the window that
	// starts at window, while fewer than limit were made (false: too many).
	TakeGuess(ctx context.Context, shopperID int64, window time.Time, limit int) (bool, error)
	// ForgiveGuess gives back an attempt that found a code.
	ForgiveGuess(ctx context.Context, shopperID int64, window time.Time) error
	// UseCode marks an unused code redeemed by the shopper and returns its
	// template (ErrCodeInvalid when there is no such unused code).
	UseCode(ctx context.Context, code string, shopperID int64, at time.Time) (int64, error)
	SetCodeCoupon(ctx context.Context, code string, couponID int64) error

	// CreateJob writes a bulk issue job with its targets: the listed
	// shoppers that exist, or the segment's shoppers.
	CreateJob(ctx context.Context, j Job, seg Segment) (Job, error)
	Job(ctx context.Context, id int64) (Job, error)
	// LeaseJob takes the oldest open job whose lease is free at now for
	// lease (FOR UPDATE SKIP LOCKED).
	LeaseJob(ctx context.Context, now time.Time, lease time.Duration) (Job, bool, error)
	// PendingTargets locks up to limit pending targets of a job.
	PendingTargets(ctx context.Context, jobID int64, limit int) ([]int64, error)
	// FinishTargets records targets done or failed and the job's progress
	// (finished when none is pending).
	FinishTargets(ctx context.Context, jobID int64, done []int64, failed map[int64]string, now time.Time, lease time.Duration) (Job, error)

	CreateBudget(ctx context.Context, b Budget, at time.Time) (Budget, error)
	Budgets(ctx context.Context, templateID int64, page domain.Page) ([]Budget, string, error)
	// TakeFromBudget takes one coupon from a budget of the template held
	// by the clerk, else by their store (ErrNoBudget).
	TakeFromBudget(ctx context.Context, templateID, clerkID, storeID int64) (int64, error)
	// TakeFromKOCBudget takes one coupon from a budget of the template
	// held by the KOC (ErrNoBudget).
	TakeFromKOCBudget(ctx context.Context, templateID, kocID int64) (int64, error)
	RecordGrant(ctx context.Context, g Grant) (Grant, error)
}

// Code is a redeem code.
type Code struct {
	ID         int64
	TemplateID int64
	Batch      int
	Code       string
	RedeemedBy int64
	RedeemedAt time.Time
	CreatedAt  time.Time
}

// Limits of codes.
const (
	MaxCodesPerBatch = 10_000
	CodeLen          = 12
	// GuessLimit wrong codes per shopper per GuessWindow.
	GuessLimit  = 10
	GuessWindow = 10 * time.Minute
)

// codeAlphabet has no 0/O or 1/I/L look-alikes: 32 letters, 60 bits a code.
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// NewCode returns a random redeem code.
func NewCode() (string, error) {
	var b [CodeLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("coupon: code: %w", err)
	}
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b[:]), nil
}

// GenerateCodes makes a batch of n redeem codes for a template, audited.
func (s *Service) GenerateCodes(ctx context.Context, by domain.Actor, reqID string, templateID int64, n int) (int, error) {
	if n < 1 || n > MaxCodesPerBatch {
		return 0, domain.Invalid(domain.FieldError{Field: "count", Code: "range", Message: fmt.Sprintf("must be between 1 and %d", MaxCodesPerBatch)})
	}
	at := s.now()
	var batch int
	err := s.Issuing.InTx(ctx, func(tx Store) error {
		ist := tx.(IssueStore)
		t, err := ist.Template(ctx, templateID, true) // one batch at a time per template
		if err != nil {
			return err
		}
		if t.Status == StatusEnded {
			return ErrNotClaimable.WithMessage("This coupon has ended.")
		}
		if batch, err = ist.NextBatch(ctx, templateID); err != nil {
			return err
		}
		for left := n; left > 0; {
			codes := make([]string, left)
			for i := range codes {
				if codes[i], err = NewCode(); err != nil {
					return err
				}
			}
			added, err := ist.AddCodes(ctx, templateID, batch, codes)
			if err != nil {
				return err
			}
			left -= added
		}
		return ist.Audit(ctx, audit(by, reqID, "coupon_template.codes", "coupon_template", templateID, nil,
			map[string]any{"batch": batch, "count": n}, at))
	})
	if err != nil {
		return 0, fmt.Errorf("coupon: generate codes: %w", err)
	}
	return batch, nil
}

// Redeem gives the shopper the coupon of a redeem code. A code works once;
// a shopper gets GuessLimit attempts that find no code per GuessWindow.
func (s *Service) Redeem(ctx context.Context, shopperID int64, code string) (Coupon, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	now := s.now()
	window := now.Truncate(GuessWindow)
	ok, err := s.Issuing.TakeGuess(ctx, shopperID, window, GuessLimit)
	if err != nil {
		return Coupon{}, err
	}
	if !ok {
		return Coupon{}, ErrTooManyGuesses
	}
	if len(code) != CodeLen || strings.Trim(code, codeAlphabet) != "" {
		return Coupon{}, ErrCodeInvalid
	}
	tiers, err := s.tiersOf(ctx, shopperID)
	if err != nil {
		return Coupon{}, err
	}
	var out Coupon
	err = s.Issuing.InTx(ctx, func(tx Store) error {
		ist := tx.(IssueStore)
		tid, err := ist.UseCode(ctx, code, shopperID, now)
		if err != nil {
			return err
		}
		if err := ist.ForgiveGuess(ctx, shopperID, window); err != nil {
			return err
		}
		t, err := ist.Template(ctx, tid, false)
		if err != nil {
			return err
		}
		if t.Status != StatusActive {
			return ErrNotClaimable.WithMessage("This coupon cannot be redeemed now.")
		}
		if out, err = s.issue(ctx, ist, t, shopperID, tiers, SourceCode, 0, true, now); err != nil {
			return err
		}
		return ist.SetCodeCoupon(ctx, code, out.ID)
	})
	if err != nil {
		return Coupon{}, fmt.Errorf("coupon: redeem: %w", err)
	}
	return out, nil
}

// Codes lists a template's codes (one batch, or all), oldest first.
func (s *Service) Codes(ctx context.Context, templateID int64, batch int, page domain.Page) ([]Code, string, error) {
	if _, err := s.Issuing.Template(ctx, templateID, false); err != nil {
		return nil, "", err
	}
	return s.Issuing.Codes(ctx, templateID, batch, page)
}

// JobState is where a background job is.
type JobState string

// The job states.
const (
	JobQueued  JobState = "queued"
	JobRunning JobState = "running"
	JobDone    JobState = "done"
	JobFailed  JobState = "failed"
)

// Job is a background job with its progress (bulk issue today).
type Job struct {
	ID         int64
	Kind       string
	State      JobState
	TemplateID int64
	Total      int
	Done       int
	Failed     int
	CreatedBy  int64
	Error      string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
}

// Segment is who a bulk issue goes to: listed shoppers, or everyone who
// matches (new customers; visitors of a touchpoint in [From, To); members
// at tier Tier — a member tier id — or above).
type Segment struct {
	ShopperIDs   []int64
	NewCustomers bool
	TouchpointID int64
	From, To     time.Time
	Tier         int
	// TierShoppers are the tier's members, read by StartBulkIssue.
	TierShoppers []int64
}

// MaxListedShoppers is how many shoppers one bulk issue may list.
const MaxListedShoppers = 100_000

// Validate checks a segment by its wire names.
func (g Segment) Validate() []domain.FieldError {
	var fs []domain.FieldError
	kinds := 0
	for _, on := range []bool{len(g.ShopperIDs) > 0, g.NewCustomers, g.TouchpointID > 0, g.Tier > 0} {
		if on {
			kinds++
		}
	}
	if kinds != 1 {
		fs = append(fs, domain.FieldError{Field: "segment", Code: "required", Message: "send exactly one of shopper_ids, new_customers, touchpoint_id, tier"})
	}
	if len(g.ShopperIDs) > MaxListedShoppers {
		fs = append(fs, domain.FieldError{Field: "shopper_ids", Code: "max", Message: fmt.Sprintf("at most %d shoppers", MaxListedShoppers)})
	}
	if g.TouchpointID > 0 && (g.From.IsZero() || g.To.IsZero() || !g.From.Before(g.To)) {
		fs = append(fs, domain.FieldError{Field: "to", Code: "gtfield", Message: "a touchpoint segment needs from < to"})
	}
	return fs
}

// StartBulkIssue queues a job that gives one coupon of the template to
// every shopper of the segment, audited. A worker runs it (WorkJobs);
// GET /admin/jobs/{id} shows its progress.
func (s *Service) StartBulkIssue(ctx context.Context, by domain.Actor, reqID string, templateID int64, seg Segment) (Job, error) {
	if fs := seg.Validate(); len(fs) > 0 {
		return Job{}, domain.Invalid(fs...)
	}
	if seg.Tier > 0 {
		if s.Members == nil {
			return Job{}, domain.Invalid(domain.FieldError{Field: "tier", Code: "unavailable", Message: "there is no membership"})
		}
		ids, err := s.Members.TierShoppers(ctx, int64(seg.Tier))
		if err != nil {
			return Job{}, fmt.Errorf("coupon: bulk issue: %w", err)
		}
		seg.TierShoppers = ids
	}
	at := s.now()
	var out Job
	err := s.Issuing.InTx(ctx, func(tx Store) error {
		ist := tx.(IssueStore)
		t, err := ist.Template(ctx, templateID, false)
		if err != nil {
			return err
		}
		if t.Status != StatusActive {
			return ErrNotClaimable.WithMessage("Activate the coupon before issuing it.")
		}
		if out, err = ist.CreateJob(ctx, Job{Kind: "coupon_bulk_issue", State: JobQueued, TemplateID: templateID,
			CreatedBy: by.ID, CreatedAt: at, UpdatedAt: at}, seg); err != nil {
			return err
		}
		return ist.Audit(ctx, audit(by, reqID, "coupon_template.bulk_issue", "coupon_template", templateID, nil,
			map[string]any{"job_id": out.ID, "total": out.Total}, at))
	})
	if err != nil {
		return Job{}, fmt.Errorf("coupon: bulk issue: %w", err)
	}
	return out, nil
}

// Job returns a job with its progress.
func (s *Service) Job(ctx context.Context, id int64) (Job, error) { return s.Issuing.Job(ctx, id) }

// JobLease is how long a worker holds a job between batches; a worker
// that dies is replaced after it.
const JobLease = 30 * time.Second

// WorkJobs leases one open job and works through up to maxBatches batches
// of its targets, one transaction each: a target gets its coupon and is
// marked done together, so a crash loses at most the open batch and a
// re-run never gives a shopper two. It returns how many targets it settled.
func (s *Service) WorkJobs(ctx context.Context, batch, maxBatches int) (int, error) {
	now := s.now()
	j, ok, err := s.Issuing.LeaseJob(ctx, now, JobLease)
	if err != nil || !ok {
		return 0, err
	}
	n := 0
	for range maxBatches {
		finished := false
		err := s.Issuing.InTx(ctx, func(tx Store) error {
			ist := tx.(IssueStore)
			t, err := ist.Template(ctx, j.TemplateID, false)
			if err != nil {
				return err
			}
			ids, err := ist.PendingTargets(ctx, j.ID, batch)
			if err != nil {
				return err
			}
			var done []int64
			failed := map[int64]string{}
			at := s.now()
			from, until := t.Validity(at)
			for _, id := range ids {
				_, err := ist.Issue(ctx, t, id, SourceBulk, j.ID, false, from, until, at)
				switch {
				case err == nil:
					done = append(done, id)
				case errors.Is(err, ErrSoldOut):
					failed[id] = "sold out, or the coupon is no longer active"
				default:
					return err
				}
			}
			j, err = ist.FinishTargets(ctx, j.ID, done, failed, at, JobLease)
			n += len(ids)
			finished = j.State == JobDone
			return err
		})
		if err != nil {
			return n, fmt.Errorf("coupon: bulk issue job %d: %w", j.ID, err)
		}
		if finished {
			break
		}
	}
	return n, nil
}

// Budget is N coupons of a template a store, a clerk or a KOC may hand out.
type Budget struct {
	ID         int64
	TemplateID int64
	HolderKind string // store, clerk, koc
	HolderID   int64
	Total      int
	Used       int
	CreatedBy  int64
	CreatedAt  time.Time
}

// Grant is one coupon handed out of a budget, and who handed it out: a
// clerk (GrantedBy, with their store) or a KOC (KOCID, their shopper id).
type Grant struct {
	ID        int64
	BudgetID  int64
	CouponID  int64
	ShopperID int64
	GrantedBy int64 // staff
	StoreID   int64
	KOCID     int64
	GrantedAt time.Time
	Coupon    Coupon
}

// KOCs is what a KOC's grant needs of the KOC programme (declared here,
// wired in server).
type KOCs interface {
	// KOCActive reports whether the shopper is an active KOC, read in the
	// grant's transaction tx.
	KOCActive(ctx context.Context, tx Store, shopperID int64) (bool, error)
	// KOCExists reports whether the shopper has applied as a KOC (a budget
	// may be given to a KOC before they are approved).
	KOCExists(ctx context.Context, shopperID int64) (bool, error)
}

// GrantToucher records a grant as an attribution touch of the granter's
// touchpoint for the receiving shopper, in the grant's transaction tx (the
// attribution area, wired in server). An error rolls the grant back.
type GrantToucher interface {
	GrantTouch(ctx context.Context, tx Store, g Grant) error
}

// ErrNotActiveKOC refuses a grant by a shopper who is not an active KOC.
var ErrNotActiveKOC = domain.E(domain.KindForbidden, "koc_not_active", "Only an active KOC can hand out coupons.")

// CreateBudget gives a store, a clerk or a KOC N coupons of a template to
// hand out, audited.
func (s *Service) CreateBudget(ctx context.Context, by domain.Actor, reqID string, b Budget) (Budget, error) {
	var fs []domain.FieldError
	switch b.HolderKind {
	case "store", "clerk", "koc":
	default:
		fs = append(fs, domain.FieldError{Field: "holder_kind", Code: "oneof", Message: "must be one of: store clerk koc"})
	}
	if b.HolderID <= 0 {
		fs = append(fs, domain.FieldError{Field: "holder_id", Code: "required", Message: "is required"})
	}
	if b.Total < 1 || b.Total > MaxTotal {
		fs = append(fs, domain.FieldError{Field: "total", Code: "range", Message: "must be at least 1"})
	}
	if len(fs) > 0 {
		return Budget{}, domain.Invalid(fs...)
	}
	if b.HolderKind == "koc" {
		ok := false
		if s.KOCs != nil {
			var err error
			if ok, err = s.KOCs.KOCExists(ctx, b.HolderID); err != nil {
				return Budget{}, fmt.Errorf("coupon: create budget: %w", err)
			}
		}
		if !ok {
			return Budget{}, domain.Invalid(domain.FieldError{Field: "holder_id", Code: "not_found", Message: "is not a KOC (their shopper id)"})
		}
	}
	at := s.now()
	b.CreatedBy, b.Used = by.ID, 0
	var out Budget
	err := s.Issuing.InTx(ctx, func(tx Store) error {
		ist := tx.(IssueStore)
		if _, err := ist.Template(ctx, b.TemplateID, false); err != nil {
			return err
		}
		var err error
		if out, err = ist.CreateBudget(ctx, b, at); err != nil {
			return err
		}
		return ist.Audit(ctx, audit(by, reqID, "coupon_budget.create", "coupon_budget", out.ID, nil, out, at))
	})
	if err != nil {
		return Budget{}, fmt.Errorf("coupon: create budget: %w", err)
	}
	return out, nil
}

// Budgets lists the budgets of a template (0: all), newest first.
func (s *Service) Budgets(ctx context.Context, templateID int64, page domain.Page) ([]Budget, string, error) {
	return s.Issuing.Budgets(ctx, templateID, page)
}

// GrantCoupon is a clerk handing a shopper a coupon out of their own
// budget or their store's: the budget and the template's total are taken
// with conditional updates; the grant records who handed it out, is
// audited, and is a touch of the clerk's touchpoint for the shopper.
func (s *Service) GrantCoupon(ctx context.Context, by domain.Actor, reqID string, clerkID, storeID, templateID, shopperID int64) (Grant, error) {
	g, err := s.grant(ctx, by, reqID, Grant{GrantedBy: clerkID, StoreID: storeID, ShopperID: shopperID}, templateID,
		func(ist IssueStore) (int64, error) { return ist.TakeFromBudget(ctx, templateID, clerkID, storeID) })
	if err != nil {
		return Grant{}, fmt.Errorf("coupon: grant: %w", err)
	}
	return g, nil
}

// GrantAsKOC is an active KOC handing a shopper a coupon out of the budget
// the brand gave them, as a clerk does out of theirs; the grant is a touch
// of the KOC's touchpoint for the shopper. A KOC cannot grant to
// themselves.
func (s *Service) GrantAsKOC(ctx context.Context, by domain.Actor, reqID string, kocID, templateID, shopperID int64) (Grant, error) {
	if shopperID == kocID {
		return Grant{}, domain.Invalid(domain.FieldError{Field: "shopper_id", Code: "self", Message: "must be another shopper"})
	}
	g, err := s.grant(ctx, by, reqID, Grant{KOCID: kocID, ShopperID: shopperID}, templateID, func(ist IssueStore) (int64, error) {
		ok := false
		if s.KOCs != nil {
			var err error
			if ok, err = s.KOCs.KOCActive(ctx, ist, kocID); err != nil {
				return 0, err
			}
		}
		if !ok {
			return 0, ErrNotActiveKOC
		}
		return ist.TakeFromKOCBudget(ctx, templateID, kocID)
	})
	if err != nil {
		return Grant{}, fmt.Errorf("coupon: koc grant: %w", err)
	}
	return g, nil
}

// grant issues one coupon of the template to g.ShopperID out of the budget
// take takes from, and records, audits and reports the grant as a touch,
// in one transaction.
func (s *Service) grant(ctx context.Context, by domain.Actor, reqID string, g Grant, templateID int64, take func(IssueStore) (int64, error)) (Grant, error) {
	now := s.now()
	var out Grant
	err := s.Issuing.InTx(ctx, func(tx Store) error {
		ist := tx.(IssueStore)
		t, err := ist.Template(ctx, templateID, false)
		if err != nil {
			return err
		}
		if t.Status != StatusActive {
			return ErrNotClaimable.WithMessage("This coupon is not active.")
		}
		budget, err := take(ist)
		if err != nil {
			return err
		}
		from, until := t.Validity(now)
		c, err := ist.Issue(ctx, t, g.ShopperID, SourceGrant, budget, false, from, until, now)
		if err != nil {
			return err
		}
		g.BudgetID, g.CouponID, g.GrantedAt = budget, c.ID, now
		if out, err = ist.RecordGrant(ctx, g); err != nil {
			return err
		}
		out.Coupon = c
		if err := ist.Audit(ctx, audit(by, reqID, "coupon_grant.create", "coupon_grant", out.ID, nil,
			map[string]any{"budget_id": out.BudgetID, "coupon_id": out.CouponID, "shopper_id": out.ShopperID,
				"granted_by": out.GrantedBy, "store_id": out.StoreID, "koc_id": out.KOCID}, now)); err != nil {
			return err
		}
		if s.Touches == nil {
			return nil
		}
		return s.Touches.GrantTouch(ctx, ist, out)
	})
	return out, err
}
