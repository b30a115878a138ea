-- Part 20: the tenant tables. Every tenant table carries tenant_id first in its
-- primary key and in every foreign key and unique constraint, so the schema can be
-- distributed by tenant unchanged. Money is bigint minor units plus a currency code.

CREATE TABLE eventsvc.tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    is_active   boolean NOT NULL DEFAULT true,
    settings    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Read model of venue-service: what event validation needs, refreshed by the worker.
CREATE TABLE eventsvc.venues (
    tenant_id    uuid NOT NULL REFERENCES eventsvc.tenants (id),
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    capacity     integer NOT NULL CHECK (capacity >= 0),
    timezone     text NOT NULL DEFAULT 'UTC',
    is_active    boolean NOT NULL DEFAULT true,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE eventsvc.events (
    tenant_id           uuid NOT NULL REFERENCES eventsvc.tenants (id),
    id                  uuid NOT NULL DEFAULT gen_random_uuid(),
    venue_id            uuid NOT NULL,
    name                text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 300),
    slug                text NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 320),
    description         text CHECK (length(description) <= 20000),
    short_description   text CHECK (length(short_description) <= 500),
    status              eventsvc.event_status NOT NULL DEFAULT 'DRAFT',
    visibility          eventsvc.event_visibility NOT NULL DEFAULT 'PUBLIC',
    event_type          eventsvc.event_type NOT NULL DEFAULT 'single',
    primary_category_id uuid REFERENCES eventsvc.event_categories (id),
    tags                text[] NOT NULL DEFAULT '{}',
    starts_at           timestamptz,
    ends_at             timestamptz,
    doors_open          timestamptz,
    timezone            text NOT NULL DEFAULT 'UTC',
    capacity            integer CHECK (capacity >= 0),
    is_virtual          boolean NOT NULL DEFAULT false,
    is_hybrid           boolean NOT NULL DEFAULT false,
    virtual_event_url   text,
    image_url           text,
    is_featured         boolean NOT NULL DEFAULT false,
    featured_order      integer,
    age_restriction     integer NOT NULL DEFAULT 0 CHECK (age_restriction BETWEEN 0 AND 99),
    artist_wallet       text,
    artist_percentage   numeric(5,2) CHECK (artist_percentage BETWEEN 0 AND 100),
    venue_percentage    numeric(5,2) CHECK (venue_percentage BETWEEN 0 AND 100),
    event_pda           text,
    blockchain_status   eventsvc.blockchain_status NOT NULL DEFAULT 'none',
    cancelled_at        timestamptz,
    cancellation_reason text,
    cancelled_by        text,
    created_by          text,
    updated_by          text,
    version             integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, venue_id) REFERENCES eventsvc.venues (tenant_id, id),
    CONSTRAINT events_venue_slug_key UNIQUE (tenant_id, venue_id, slug),
    CONSTRAINT events_dates_order CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at),
    CONSTRAINT events_doors_before_start CHECK (doors_open IS NULL OR starts_at IS NULL OR doors_open <= starts_at),
    CONSTRAINT events_royalty_split CHECK (coalesce(artist_percentage, 0) + coalesce(venue_percentage, 0) <= 100),
    CONSTRAINT events_virtual_url CHECK (NOT is_virtual OR virtual_event_url ~ '^https://[^\s/?#]+\.[^\s/?#]+([/?#]\S*)?$'),
    CONSTRAINT events_cancelled_fields CHECK (status <> 'CANCELLED' OR cancelled_at IS NOT NULL OR deleted_at IS NOT NULL),
    -- One single event at a time per venue; the lifecycle code reports it as a conflict first.
    CONSTRAINT events_no_overlap EXCLUDE USING gist (
        tenant_id WITH =, venue_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
        WHERE (event_type = 'single' AND deleted_at IS NULL AND status <> 'CANCELLED'
               AND starts_at IS NOT NULL AND ends_at IS NOT NULL)
);
-- The primary key serves "all of a tenant's events" (tenant_id is its first column).
-- The public's indexes across tenants are in part 61 (search) and part 71 (the catalogue).
CREATE INDEX idx_events_venue_status ON eventsvc.events (tenant_id, venue_id, status);
CREATE INDEX idx_events_tenant_status ON eventsvc.events (tenant_id, status) WHERE deleted_at IS NULL;
-- A tenant's events by date, with id as the tie-break of keyset pages.
CREATE INDEX idx_events_starts_at ON eventsvc.events (tenant_id, starts_at, id);
CREATE INDEX idx_events_featured ON eventsvc.events (tenant_id, featured_order) WHERE is_featured AND deleted_at IS NULL;
-- Lookups by id alone (event pages, anonymous and internal reads): without it each
-- is a probe of the primary key per tenant. (By PDA: events_event_pda_key, part 32.)
CREATE INDEX idx_events_id ON eventsvc.events (id);

CREATE TABLE eventsvc.event_schedules (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id        uuid NOT NULL,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    doors_open_at   timestamptz,
    timezone        text NOT NULL DEFAULT 'UTC',
    status          eventsvc.schedule_status NOT NULL DEFAULT 'SCHEDULED',
    is_recurring    boolean NOT NULL DEFAULT false,
    recurrence_rule text,
    recurrence_end  timestamptz,
    notes           text,
    version         integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE,
    CHECK (ends_at > starts_at),
    CHECK (doors_open_at IS NULL OR doors_open_at <= starts_at),
    CHECK (NOT is_recurring OR recurrence_rule IS NOT NULL)
);
CREATE INDEX idx_event_schedules_event ON eventsvc.event_schedules (tenant_id, event_id, starts_at);

-- One date of a recurring schedule on sale with seats of its own (docs/series.md):
-- its date sections are event_capacity rows with occurrence_id. original_starts_at is
-- the rule's date, which a move keeps (one row per date of the rule).
CREATE TABLE eventsvc.event_occurrences (
    tenant_id          uuid NOT NULL,
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id           uuid NOT NULL,
    schedule_id        uuid NOT NULL,
    original_starts_at timestamptz NOT NULL,
    starts_at          timestamptz NOT NULL,
    ends_at            timestamptz NOT NULL,
    status             text NOT NULL DEFAULT 'ON_SALE'
                       CHECK (status IN ('ON_SALE', 'SOLD_OUT', 'CLOSED', 'CANCELLED')),
    status_reason      text CHECK (length(status_reason) <= 1000),
    version            integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, schedule_id) REFERENCES eventsvc.event_schedules (tenant_id, id),
    CONSTRAINT event_occurrences_date_key UNIQUE (tenant_id, schedule_id, original_starts_at),
    CHECK (ends_at > starts_at)
);
CREATE INDEX idx_event_occurrences_event ON eventsvc.event_occurrences (tenant_id, event_id, starts_at);

CREATE TABLE eventsvc.event_capacity (
    tenant_id          uuid NOT NULL,
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id           uuid NOT NULL,
    schedule_id        uuid,
    section_name       text NOT NULL CHECK (length(btrim(section_name)) BETWEEN 1 AND 100),
    section_code       text,
    tier               text,
    total_capacity     integer NOT NULL CHECK (total_capacity >= 0),
    available_capacity integer NOT NULL CHECK (available_capacity >= 0),
    reserved_capacity  integer NOT NULL DEFAULT 0 CHECK (reserved_capacity >= 0),
    sold_count         integer NOT NULL DEFAULT 0 CHECK (sold_count >= 0),
    pending_count      integer NOT NULL DEFAULT 0 CHECK (pending_count >= 0),
    minimum_purchase   integer NOT NULL DEFAULT 1 CHECK (minimum_purchase >= 1),
    maximum_purchase   integer CHECK (maximum_purchase >= 1),
    row_config         jsonb CHECK (row_config IS NULL OR jsonb_typeof(row_config) = 'object'),
    seat_map           jsonb,
    is_active          boolean NOT NULL DEFAULT true,
    version            integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    occurrence_id      uuid,                -- a date section: the date it sells (docs/series.md)
    template_id        uuid,                -- a date section: the section it was copied from
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, schedule_id) REFERENCES eventsvc.event_schedules (tenant_id, id),
    CONSTRAINT event_capacity_occurrence_fkey FOREIGN KEY (tenant_id, occurrence_id)
        REFERENCES eventsvc.event_occurrences (tenant_id, id),
    CONSTRAINT event_capacity_section_key UNIQUE NULLS NOT DISTINCT (tenant_id, event_id, section_name, occurrence_id),
    CONSTRAINT event_capacity_date_section CHECK ((occurrence_id IS NULL) = (template_id IS NULL)),
    CONSTRAINT event_capacity_invariant CHECK (available_capacity + reserved_capacity + sold_count <= total_capacity),
    CONSTRAINT event_capacity_purchase_limits CHECK (maximum_purchase IS NULL OR minimum_purchase <= maximum_purchase)
);
CREATE INDEX idx_event_capacity_event ON eventsvc.event_capacity (tenant_id, event_id);

CREATE TABLE eventsvc.event_pricing (
    tenant_id                 uuid NOT NULL,
    id                        uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id                  uuid NOT NULL,
    schedule_id               uuid,
    capacity_id               uuid,
    name                      text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    description               text,
    tier                      text,
    currency                  char(3) NOT NULL DEFAULT 'USD' REFERENCES eventsvc.currencies (code),
    base_price                bigint NOT NULL CHECK (base_price >= 0),
    current_price             bigint CHECK (current_price >= 0),
    service_fee               bigint NOT NULL DEFAULT 0 CHECK (service_fee >= 0),
    facility_fee              bigint NOT NULL DEFAULT 0 CHECK (facility_fee >= 0),
    tax_rate                  numeric(9,8) NOT NULL DEFAULT 0 CHECK (tax_rate BETWEEN 0 AND 1),
    is_dynamic                boolean NOT NULL DEFAULT false,
    min_price                 bigint CHECK (min_price >= 0),
    max_price                 bigint CHECK (max_price >= 0),
    price_adjustment_rules    jsonb,
    early_bird_price          bigint CHECK (early_bird_price >= 0),
    early_bird_ends_at        timestamptz,
    last_minute_price         bigint CHECK (last_minute_price >= 0),
    last_minute_starts_at     timestamptz,
    group_size_min            integer CHECK (group_size_min >= 2),
    group_discount_percentage numeric(5,2) CHECK (group_discount_percentage BETWEEN 0 AND 100),
    sales_start_at            timestamptz,
    sales_end_at              timestamptz,
    max_per_order             integer CHECK (max_per_order >= 1),
    max_per_customer          integer CHECK (max_per_customer >= 1),
    is_active                 boolean NOT NULL DEFAULT true,
    is_visible                boolean NOT NULL DEFAULT true,
    display_order             integer NOT NULL DEFAULT 0,
    version                   integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    -- the tax mode (docs/money.md): prices that include tax, fees that bear it or not,
    -- how a line rounds, a fee in percent of the tickets
    tax_included              boolean NOT NULL DEFAULT false,
    fees_taxable              boolean NOT NULL DEFAULT true,
    rounding_mode             text NOT NULL DEFAULT 'half_even'
                              CONSTRAINT event_pricing_rounding_mode CHECK (rounding_mode IN ('half_even', 'half_up')),
    fee_percentage            numeric NOT NULL DEFAULT 0.00
                              CONSTRAINT event_pricing_fee_percentage CHECK (fee_percentage BETWEEN 0 AND 100
                                                                             AND fee_percentage = round(fee_percentage, 2)),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, schedule_id) REFERENCES eventsvc.event_schedules (tenant_id, id),
    FOREIGN KEY (tenant_id, capacity_id) REFERENCES eventsvc.event_capacity (tenant_id, id),
    CONSTRAINT event_pricing_sales_window CHECK (sales_end_at IS NULL OR sales_start_at IS NULL OR sales_end_at > sales_start_at),
    CONSTRAINT event_pricing_dynamic_range CHECK (NOT is_dynamic OR (min_price IS NOT NULL AND max_price IS NOT NULL
                                                  AND min_price <= base_price AND base_price <= max_price)),
    CONSTRAINT event_pricing_current_in_range CHECK (current_price IS NULL OR NOT is_dynamic
                                                     OR current_price BETWEEN min_price AND max_price),
    CONSTRAINT event_pricing_early_bird CHECK (early_bird_price IS NULL OR (early_bird_price < base_price AND early_bird_ends_at IS NOT NULL)),
    CONSTRAINT event_pricing_group CHECK ((group_discount_percentage IS NULL) = (group_size_min IS NULL))
);
CREATE INDEX idx_event_pricing_event ON eventsvc.event_pricing (tenant_id, event_id);
CREATE INDEX idx_event_pricing_capacity ON eventsvc.event_pricing (tenant_id, capacity_id);

CREATE TABLE eventsvc.event_metadata (
    tenant_id          uuid NOT NULL,
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id           uuid NOT NULL,
    performers         jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(performers) = 'array'),
    headliner          text,
    supporting_acts    text[] NOT NULL DEFAULT '{}',
    production_company text,
    sponsors           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(sponsors) = 'array'),
    custom_fields      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT event_metadata_event_key UNIQUE (tenant_id, event_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);

-- Written only by the audit trigger.
CREATE TABLE eventsvc.event_audit_log (
    tenant_id      uuid NOT NULL REFERENCES eventsvc.tenants (id),
    id             bigint GENERATED ALWAYS AS IDENTITY,
    event_id       uuid NOT NULL,
    action         text NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'SOFT_DELETE', 'DELETE')),
    actor_id       text,
    actor_role     text NOT NULL,
    changed_fields jsonb NOT NULL DEFAULT '{}',
    txid           bigint NOT NULL DEFAULT txid_current(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_event_audit_event ON eventsvc.event_audit_log (tenant_id, event_id, id);

CREATE TABLE eventsvc.event_cancellation_reports (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id        uuid NOT NULL,
    status          eventsvc.report_status NOT NULL DEFAULT 'pending',
    reason          text NOT NULL CHECK (length(btrim(reason)) >= 1),
    cancelled_by    text,
    holds_released  integer NOT NULL DEFAULT 0,
    tickets_found   integer,
    tickets_cancelled integer,
    refunds_requested integer,
    listings_cancelled integer,
    notifications_sent integer,
    failed_steps    jsonb NOT NULL DEFAULT '[]',
    report          jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id)
);
CREATE INDEX idx_cancellation_reports_event ON eventsvc.event_cancellation_reports (tenant_id, event_id);

-- One row per step of the cancellation saga; the worker drives them.
CREATE TABLE eventsvc.cancellation_steps (
    tenant_id       uuid NOT NULL,
    report_id       uuid NOT NULL,
    step_no         smallint NOT NULL,
    step            text NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    idempotency_key uuid NOT NULL DEFAULT gen_random_uuid(),
    last_error      text,
    result          jsonb,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, report_id, step_no),
    FOREIGN KEY (tenant_id, report_id) REFERENCES eventsvc.event_cancellation_reports (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE eventsvc.idempotency_keys (
    tenant_id     uuid NOT NULL REFERENCES eventsvc.tenants (id),
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    operation     text NOT NULL,
    request_hash  bytea NOT NULL,
    response      jsonb,
    actor_id      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idx_idempotency_keys_expires ON eventsvc.idempotency_keys (expires_at);

-- Critical changes after sales: single-use, bound to event, user and the exact change.
CREATE TABLE eventsvc.confirmation_tokens (
    tenant_id    uuid NOT NULL,
    token        uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id     uuid NOT NULL,
    actor_id     text NOT NULL,
    change_hash  bytea NOT NULL,
    change       jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    PRIMARY KEY (tenant_id, token),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_confirmation_tokens_expires ON eventsvc.confirmation_tokens (expires_at);

-- One row per hold (BRIEF decision 3): its own quantity, expiry, holder and locked price.
-- No foreign keys: every reservation would take a key-share lock on its section,
-- event, tier and currency rows, and on a hot section those locks queue every buyer
-- (one multixact per concurrent buyer). The C hold path reads and checks all four
-- before it inserts; deletes of sections and tiers are guarded by triggers (part 40).
-- docs/capacity.md.
CREATE TABLE eventsvc.capacity_holds (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id      uuid NOT NULL,
    capacity_id   uuid NOT NULL,
    pricing_id    uuid,
    holder_id     text NOT NULL CHECK (length(holder_id) BETWEEN 1 AND 200),
    quantity      integer NOT NULL CHECK (quantity > 0),
    state         eventsvc.hold_state NOT NULL DEFAULT 'ACTIVE',
    currency      char(3),
    unit_price    bigint CHECK (unit_price >= 0),
    locked_price  jsonb,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    confirmed_at  timestamptz,
    released_at   timestamptz,
    PRIMARY KEY (tenant_id, id)
) WITH (fillfactor = 50);
-- No index covers state, confirmed_at or released_at, and pages keep room for
-- one more version of each row: confirming, releasing and expiring a hold are
-- HOT updates (no index entries written). The expiry sweep reads the expiry
-- index from its horizon on, not from the beginning (docs/capacity.md).
CREATE INDEX idx_capacity_holds_expires ON eventsvc.capacity_holds (expires_at);
CREATE INDEX idx_capacity_holds_section ON eventsvc.capacity_holds (tenant_id, capacity_id, expires_at);
CREATE INDEX idx_capacity_holds_holder ON eventsvc.capacity_holds (tenant_id, event_id, holder_id);

-- Transactional outbox: written in the business transaction, delivered by the worker.
CREATE TABLE eventsvc.outbox (
    tenant_id       uuid NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    message_id      uuid NOT NULL DEFAULT gen_random_uuid(),
    aggregate_type  text NOT NULL DEFAULT 'event',
    aggregate_id    uuid NOT NULL,
    sequence        bigint NOT NULL,
    exchange        text NOT NULL CHECK (exchange IN ('tickettoken_events', 'event-lifecycle')),
    routing_key     text NOT NULL,
    payload         jsonb NOT NULL,
    headers         jsonb NOT NULL DEFAULT '{}',
    state           eventsvc.outbox_state NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_at      timestamptz,
    claimed_by      integer,
    lease_until     timestamptz,
    published_at    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    -- the per-event order consumers rely on; message_id is a random UUID with no
    -- unique index: every settle of a row would insert an entry into it (docs/outbox.md)
    CONSTRAINT outbox_aggregate_sequence_key UNIQUE (tenant_id, aggregate_id, sequence)
);
CREATE INDEX idx_outbox_pending ON eventsvc.outbox (id) WHERE state = 'pending';
CREATE INDEX idx_outbox_aggregate_pending ON eventsvc.outbox (aggregate_id, id) WHERE state = 'pending';

-- Per-aggregate sequence numbers for outbox messages (consumers drop duplicates by it).
CREATE TABLE eventsvc.outbox_sequences (
    tenant_id     uuid NOT NULL,
    aggregate_id  uuid NOT NULL,
    last_sequence bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, aggregate_id)
);

-- Rich content that the original kept in MongoDB.
CREATE TABLE eventsvc.event_content (
    tenant_id     uuid NOT NULL,
    event_id      uuid NOT NULL,
    locale        text NOT NULL DEFAULT 'en' CHECK (locale ~ '^[a-z]{2}(-[A-Z]{2})?$'),
    long_description text CHECK (length(long_description) <= 200000),
    highlights    jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(highlights) = 'array'),
    media         jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(media) = 'array'),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id, locale),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE eventsvc.event_faqs (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id    uuid NOT NULL,
    position    integer NOT NULL CHECK (position >= 0),
    question    text NOT NULL CHECK (length(btrim(question)) BETWEEN 1 AND 1000),
    answer      text NOT NULL CHECK (length(answer) <= 10000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT event_faqs_position_key UNIQUE (tenant_id, event_id, position),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE eventsvc.event_reviews (
    tenant_id        uuid NOT NULL,
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id         uuid NOT NULL,
    user_id          text NOT NULL,
    rating           smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title            text CHECK (length(title) <= 200),
    body             text CHECK (length(body) <= 10000),
    moderation_state text NOT NULL DEFAULT 'pending' CHECK (moderation_state IN ('pending', 'approved', 'rejected')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT event_reviews_one_per_user UNIQUE (tenant_id, event_id, user_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);
