-- Part 78: what PostgREST's OpenAPI description (GET /) says about each api object.
-- Every api function, view and view column has a comment (test/api_comments.sql fails
-- on one that has none). Functions and views are described where they are created;
-- this part adds the functions of the content area that had none, the columns (by
-- name, with the meaning they have in every api view; a view's own columns first),
-- and says "Read-only" on every view no API role may write: PostgREST 12 lists
-- methods by what PostgreSQL could update, not by the caller's rights, so the
-- description is where a client learns that writes go through the functions.

COMMENT ON FUNCTION api.event_content(uuid, text) IS
    'Rich content of a visible event in one locale (falling back to the language, then en): long description, highlights, media, FAQs and the rating (GET /rpc/event_content).';
COMMENT ON FUNCTION api.event_metadata(uuid) IS
    'Performers, headliner, supporting acts, production company, sponsors and custom fields of a visible event (GET /rpc/event_metadata).';
COMMENT ON FUNCTION api.event_rating(uuid) IS
    'Rating of a visible event from its approved reviews: count, average (2 decimals) and stars per value (GET /rpc/event_rating).';
COMMENT ON FUNCTION api.event_reviews(uuid, integer, integer) IS
    'Approved reviews of a visible event, newest first, paged by page_limit and page_offset (GET /rpc/event_reviews).';
COMMENT ON FUNCTION api.event_view_count(uuid) IS
    'Views recorded for a visible event (GET /rpc/event_view_count).';
COMMENT ON FUNCTION api.moderate_review(uuid, text) IS
    'Tenant admin: set a review''s moderation_state to pending, approved or rejected; only approved reviews count (POST /rpc/moderate_review).';
COMMENT ON FUNCTION api.set_event_content(uuid, text, text, jsonb, jsonb) IS
    'Insert or replace the long description, highlights and media of one locale of an event (POST /rpc/set_event_content).';
COMMENT ON FUNCTION api.set_event_faqs(uuid, jsonb) IS
    'Replace the FAQs of an event with the given array of {question, answer}, in order (POST /rpc/set_event_faqs).';
COMMENT ON FUNCTION api.set_event_metadata(uuid, jsonb, text, text[], text, jsonb, jsonb) IS
    'Set the performers, headliner, supporting acts, production company, sponsors and custom fields of an event; NULL leaves a field as it is (POST /rpc/set_event_metadata).';
COMMENT ON FUNCTION api.submit_review(uuid, integer, text, text) IS
    'The caller''s review (rating 1-5, title, body) of an event, pending until an admin approves it; a second one replaces the first (POST /rpc/submit_review).';

DO $comments$
DECLARE
    r record;
BEGIN
    -- columns: (view, column) for a meaning of its own, (NULL, column) for the meaning
    -- the name has wherever it appears
    FOR r IN
        WITH meaning(view_name, column_name, text) AS (VALUES
            (NULL, 'id', 'Identifier (uuid) of the row.'),
            (NULL, 'tenant_id', 'The tenant (venue operator or promoter) the row belongs to.'),
            (NULL, 'event_id', 'The event (api.events.id).'),
            (NULL, 'venue_id', 'The venue (venue-service id) where the event takes place.'),
            (NULL, 'schedule_id', 'The schedule (api.event_schedules.id) this row applies to; NULL: every date of the event.'),
            (NULL, 'capacity_id', 'The section (api.event_sections.id).'),
            (NULL, 'occurrence_id', 'The date of a series (api.occurrences.id) the section sells; NULL: not a date section.'),
            (NULL, 'template_id', 'The section of the recurring schedule a date section was copied from; NULL: not a date section.'),
            ('occurrences', 'original_starts_at', 'The start the recurrence rule gives this date (a move keeps it).'),
            ('occurrences', 'status', 'ON_SALE, SOLD_OUT, CLOSED (sales stopped) or CANCELLED.'),
            ('occurrences', 'status_reason', 'Why the date was closed or cancelled.'),
            ('occurrence_availability', 'status', 'ON_SALE, SOLD_OUT, CLOSED (sales stopped) or CANCELLED.'),
            ('occurrence_availability', 'sections', 'Active sections of the date.'),
            (NULL, 'pricing_id', 'The price tier (api.event_pricing_tiers.id); NULL: no tier.'),
            (NULL, 'name', 'Display name.'),
            (NULL, 'slug', 'URL name, unique within its scope: lower-case words joined by hyphens.'),
            (NULL, 'description', 'Longer description (text).'),
            (NULL, 'short_description', 'One-line description for lists.'),
            (NULL, 'status', 'Current status.'),
            (NULL, 'version', 'Optimistic lock: state it as expected_version when changing the row; bumped by every change.'),
            (NULL, 'created_at', 'When the row was created.'),
            (NULL, 'updated_at', 'When the row last changed.'),
            (NULL, 'created_by', 'Who created the row (JWT subject or session user).'),
            (NULL, 'updated_by', 'Who changed the row last.'),
            (NULL, 'starts_at', 'Start (timestamptz).'),
            (NULL, 'ends_at', 'End (timestamptz), after the start.'),
            (NULL, 'timezone', 'IANA time zone of the local dates (e.g. Europe/Berlin).'),
            (NULL, 'currency', 'ISO 4217 currency code; amounts are integers in its minor unit.'),
            (NULL, 'is_active', 'Whether the row is in use; inactive rows sell nothing.'),
            (NULL, 'tier', 'Tier label (free text, e.g. VIP).'),
            (NULL, 'section_name', 'Section name, unique within the event.'),
            (NULL, 'section_code', 'Short code of the section (free text).'),
            (NULL, 'total_capacity', 'Seats in the section (or summed over the sections).'),
            (NULL, 'sold', 'Seats in confirmed holds.'),
            (NULL, 'reserved', 'Seats in live (active, unexpired) holds.'),
            (NULL, 'available', 'Seats free for new holds: total minus sold minus reserved (0 when inactive).'),
            (NULL, 'display_order', 'Order in lists (ascending).'),
            (NULL, 'state', 'Current state.'),
            (NULL, 'holds_released', 'Holds released.'),
            (NULL, 'cancelled_by', 'Who cancelled.'),
            (NULL, 'doors_open', 'When the doors open, before the start.'),
            (NULL, 'age_restriction', 'Minimum age (0: none).'),
            (NULL, 'event_type', 'single, recurring or series.'),
            (NULL, 'featured_order', 'Order among featured events (ascending).'),
            (NULL, 'image_url', 'URL of the event''s image.'),
            (NULL, 'is_featured', 'Whether the event is featured.'),
            (NULL, 'is_hybrid', 'Whether the event is both in person and online.'),
            (NULL, 'is_virtual', 'Whether the event is online only.'),
            (NULL, 'primary_category_id', 'The main category (api.categories.id).'),
            (NULL, 'tags', 'Free tags (text array), searchable.'),
            (NULL, 'expires_at', 'When the hold ends unless confirmed or extended.'),
            (NULL, 'quantity', 'Seats held.'),
            (NULL, 'holder_id', 'Who holds the seats (the buyer: JWT subject or the holder_id given).'),
            (NULL, 'unit_price', 'Price of one seat when the hold was made (minor units), locked for the hold.'),
            (NULL, 'locked_price', 'The full price calculation locked at reservation (JSON, minor units).'),
            (NULL, 'confirmed_at', 'When the hold was confirmed (sold).'),
            (NULL, 'released_at', 'When the hold was released or expired.'),
            (NULL, 'parent_id', 'Parent category (api.categories.id); NULL for a top-level category.'),
            (NULL, 'icon', 'Icon name.'),
            (NULL, 'color', 'Display color (#RRGGBB).'),
            (NULL, 'visibility', 'PUBLIC (in the public catalogue), PRIVATE or UNLISTED.'),
            (NULL, 'capacity', 'Seats of the event as announced (the sections hold the real counts).'),
            (NULL, 'virtual_event_url', 'https URL of an online event.'),
            (NULL, 'artist_wallet', 'On-chain wallet of the artist for royalties.'),
            (NULL, 'artist_percentage', 'Artist''s share of resale royalties (percent).'),
            (NULL, 'venue_percentage', 'Venue''s share of resale royalties (percent).'),
            (NULL, 'event_pda', 'On-chain address of the event; one event per address.'),
            (NULL, 'blockchain_status', 'none, pending, queued, synced or failed.'),
            (NULL, 'cancelled_at', 'When the event was cancelled.'),
            (NULL, 'cancellation_reason', 'Why the event was cancelled.'),
            (NULL, 'doors_open_at', 'When the doors open for this date.'),
            (NULL, 'is_recurring', 'Whether the schedule repeats (recurrence_rule).'),
            (NULL, 'recurrence_rule', 'RFC 5545 RRULE of the repetition, in local time.'),
            (NULL, 'recurrence_end', 'Last possible occurrence.'),
            (NULL, 'notes', 'Free notes.'),
            (NULL, 'available_capacity', 'Seats counter stored with the section (api.section_availability has the live figures).'),
            (NULL, 'reserved_capacity', 'Reserved-seats counter stored with the section (live figures: api.section_availability).'),
            (NULL, 'sold_count', 'Sold-seats counter stored with the section (live figures: api.section_availability).'),
            (NULL, 'pending_count', 'Seats pending payment (counter).'),
            (NULL, 'minimum_purchase', 'Fewest seats one hold may take.'),
            (NULL, 'maximum_purchase', 'Most seats one hold may take (NULL: no limit).'),
            (NULL, 'row_config', 'Rows and seats layout (JSON object).'),
            (NULL, 'base_price', 'Price of one seat (minor units).'),
            (NULL, 'current_price', 'Current price of a dynamic tier (minor units), within min_price..max_price.'),
            (NULL, 'service_fee', 'Service fee per seat (minor units).'),
            (NULL, 'facility_fee', 'Facility fee per seat (minor units).'),
            (NULL, 'tax_rate', 'Tax rate as an exact decimal fraction (0.0825 = 8.25 %).'),
            (NULL, 'tax_included', 'true: the tier''s prices and fees are what the buyer pays, tax inside; false: tax is added on top (docs/money.md).'),
            (NULL, 'fees_taxable', 'Whether the service, facility and percentage fees bear the tier''s tax like the tickets.'),
            (NULL, 'rounding_mode', 'How each line rounds its discount, percentage fee and tax, once per line: half_even or half_up.'),
            (NULL, 'fee_percentage', 'Fee in percent of the tickets after the group discount (2 decimal places).'),
            (NULL, 'is_dynamic', 'Whether the price moves within min_price..max_price.'),
            (NULL, 'min_price', 'Lowest price of a dynamic tier (minor units).'),
            (NULL, 'max_price', 'Highest price of a dynamic tier (minor units).'),
            (NULL, 'early_bird_price', 'Price before early_bird_ends_at (minor units).'),
            (NULL, 'early_bird_ends_at', 'End of the early-bird price.'),
            (NULL, 'last_minute_price', 'Price from last_minute_starts_at on (minor units).'),
            (NULL, 'last_minute_starts_at', 'Start of the last-minute price.'),
            (NULL, 'group_size_min', 'Seats from which the group discount applies.'),
            (NULL, 'group_discount_percentage', 'Group discount (percent).'),
            (NULL, 'sales_start_at', 'When the tier goes on sale.'),
            (NULL, 'sales_end_at', 'When the tier stops selling.'),
            (NULL, 'max_per_order', 'Most seats of this tier in one hold.'),
            (NULL, 'max_per_customer', 'Most seats of this tier one customer may hold or buy.'),
            (NULL, 'is_visible', 'Whether buyers see the tier.'),
            (NULL, 'category', 'Slug of the main category.'),
            (NULL, 'venue_name', 'Name of the venue.'),
            (NULL, 'sections', 'Number of sections.'),
            (NULL, 'from_status', 'Status an event may leave.'),
            (NULL, 'to_status', 'Status it may move to.'),
            (NULL, 'reason', 'Why the event was cancelled.'),
            (NULL, 'tickets_found', 'Tickets the ticket service reported for the event.'),
            (NULL, 'tickets_cancelled', 'Tickets the ticket service cancelled.'),
            (NULL, 'refunds_requested', 'Refunds the payment service accepted.'),
            (NULL, 'listings_cancelled', 'Resale listings the marketplace cancelled.'),
            (NULL, 'notifications_sent', 'Notifications the notification service sent.'),
            (NULL, 'failed_steps', 'Saga steps that failed: [{step_no, step, attempts, reason}].'),
            (NULL, 'report', 'The saga''s report (JSON).'),
            (NULL, 'completed_at', 'When the saga ended.'),
            (NULL, 'steps', 'Each saga step: [{step_no, step, state, attempts, last_error}].'),
            (NULL, 'max_seats_per_customer', 'Most seats one customer may hold or buy for the event.'),
            (NULL, 'tickets_sold', 'Seats in confirmed holds.'),
            (NULL, 'revenue_minor', 'Revenue of the confirmed holds (minor units of currency).'),
            (NULL, 'confirmed_holds', 'Confirmed holds.'),
            (NULL, 'customers', 'Distinct holders.'),
            (NULL, 'buying_customers', 'Distinct holders with a confirmed hold.'),
            (NULL, 'conversion_rate', 'buying_customers / customers.'),
            (NULL, 'holds_created', 'Holds made.'),
            (NULL, 'holds_confirmed', 'Holds confirmed.'),
            (NULL, 'holds_expired', 'Holds that expired.'),
            (NULL, 'holds_active', 'Holds live now.'),
            (NULL, 'phase', 'Where a live hold is: NULL reserved, PAYMENT, WAITLIST, OFFERED; an ended hold keeps its last phase.'),
            (NULL, 'payment_ref', 'The payment''s reference given to api.start_payment.'),
            (NULL, 'payment_started_at', 'When the hold entered its payment window.'),
            (NULL, 'renewals', 'How many times api.extend_hold moved the expiry.'),
            (NULL, 'revived_at', 'When a payment that arrived late confirmed the hold anyway (its seats were still free).'),
            (NULL, 'changed_at', 'When the hold last changed.'),
            (NULL, 'state_reason', 'Why the hold is in its state.'),
            ('events', 'status', 'Lifecycle status: DRAFT, REVIEW, APPROVED, PUBLISHED, ON_SALE, SALES_PAUSED, SOLD_OUT, IN_PROGRESS, COMPLETED, CANCELLED, POSTPONED or RESCHEDULED (changes through the state machine).'),
            ('public_events', 'status', 'Lifecycle status (published states only).'),
            ('event_schedules', 'status', 'SCHEDULED, CONFIRMED, POSTPONED, CANCELLED or COMPLETED.'),
            ('event_cancellation_reports', 'status', 'pending, in_progress, completed, partial or failed.'),
            ('holds', 'state', 'ACTIVE (seats held until expires_at), CONFIRMED (sold), RELEASED or EXPIRED.'),
            ('event_customer_analytics', 'holds_released', 'Holds released before they expired.'),
            ('customer_limits', 'updated_by', 'Who set the limit.'),
            ('worker_status', 'running', 'Whether the worker process runs.'),
            ('worker_status', 'pid', 'Process id of the worker.'),
            ('worker_status', 'state', 'not_configured, not_running, starting, waiting_for_extension, waiting_for_update, idle, publishing, broker_down, sweeping or saga.'),
            ('worker_status', 'database', 'The database the worker serves (eventsvc.database), whichever database is asked.'),
            ('worker_status', 'started_at', 'When the worker started.'),
            ('worker_status', 'broker_connected', 'Whether the worker is connected to RabbitMQ.'),
            ('worker_status', 'broker_since', 'Since when it is connected (or disconnected).'),
            ('worker_status', 'broker_error', 'The last connection failure as the system said it; NULL while connected.'),
            ('worker_status', 'outbox_pending', 'Outbox messages waiting to be published.'),
            ('worker_status', 'outbox_oldest_pending_age', 'Age of the oldest waiting message.'),
            ('worker_status', 'outbox_dead', 'Messages that failed eventsvc.outbox_max_attempts times (eventsvc.requeue_dead()).'),
            ('worker_status', 'last_publish_at', 'When a message was last confirmed by the broker.'),
            ('worker_status', 'published_total', 'Messages published since the worker started.'),
            ('worker_status', 'failed_total', 'Publishes returned or rejected by the broker since the worker started.'),
            ('worker_status', 'last_sweep_at', 'When the expired-hold sweep last ran.'),
            ('worker_status', 'last_sweep_released', 'Holds the last sweep that found work released.'),
            ('worker_status', 'last_sweep_ms', 'How long that sweep took (ms).'),
            ('worker_status', 'swept_total', 'Holds expired by the worker since it started.'),
            ('worker_status', 'sagas_in_flight', 'Cancellation sagas not finished.'),
            ('worker_status', 'saga_steps_done', 'Saga steps done since the worker started.'),
            ('worker_status', 'last_error', 'The last error a unit of work raised (also in the server log).'))
        SELECT c.oid::regclass AS rel, a.attname,
               (SELECT m.text FROM meaning m
                 WHERE m.column_name = a.attname AND (m.view_name = c.relname OR m.view_name IS NULL)
                 ORDER BY m.view_name NULLS LAST LIMIT 1) AS text
          FROM pg_class c
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relnamespace = 'api'::regnamespace AND c.relkind IN ('v', 'm', 'r')
           AND col_description(c.oid, a.attnum) IS NULL
    LOOP
        CONTINUE WHEN r.text IS NULL;    -- left without one: test/api_comments.sql names it
        EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', r.rel, r.attname, r.text);
    END LOOP;

    -- views and tables no API role may write
    FOR r IN
        SELECT c.oid::regclass AS rel, c.relkind, obj_description(c.oid, 'pg_class') AS text
          FROM pg_class c
         WHERE c.relnamespace = 'api'::regnamespace AND c.relkind IN ('v', 'm', 'r')
           AND NOT EXISTS (SELECT 1 FROM pg_roles g
                            WHERE g.rolname IN ('eventsvc_anon', 'eventsvc_user', 'eventsvc_admin',
                                                'eventsvc_service', 'eventsvc_worker')
                              AND has_table_privilege(g.oid, c.oid, 'INSERT, UPDATE, DELETE'))
           AND coalesce(obj_description(c.oid, 'pg_class'), '') NOT LIKE 'Read-only.%'
    LOOP
        EXECUTE format('COMMENT ON %s %s IS %L', CASE r.relkind WHEN 'r' THEN 'TABLE' ELSE 'VIEW' END, r.rel,
                       'Read-only. ' || coalesce(r.text || ' ', '')
                       || 'Changes go through the api functions (POST /rpc/...).');
    END LOOP;
END
$comments$;
