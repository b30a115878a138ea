-- eventsvc 1.0, as released. FROZEN: never edit this file; change the schema in
-- sql/install/ (the current version) and ship the change in sql/upgrade/<from>--<to>/.
-- eventsvc install script, part 00: schemas and cluster-wide roles.
-- Fragments in sql/install/ are concatenated in name order into eventsvc--1.0.sql.
-- Ranges: 00-29 foundation, 30-39 lifecycle, 40-49 capacity and pricing,
-- 50-59 worker and outbox, 60-69 schedules, discovery and content,
-- 70-79 HTTP surface, 90-99 final grants and checks.

\echo Use "CREATE EXTENSION eventsvc CASCADE" to load this file. \quit

-- Both schemas are created here, never reused: a schema that already exists
-- (possibly created by someone else) makes CREATE EXTENSION fail.
CREATE SCHEMA eventsvc;
CREATE SCHEMA api;
REVOKE ALL ON SCHEMA eventsvc, api FROM PUBLIC;
COMMENT ON SCHEMA eventsvc IS 'eventsvc tables and internal functions (not exposed over HTTP)';
COMMENT ON SCHEMA api IS 'eventsvc public surface: views and RPC functions served by PostgREST';

-- Roles are cluster-wide and outlive the extension. They are created on first
-- install and reused by later installs (a second database), but only when an
-- existing role carries none of the powers that would let it escape RLS.
-- See docs/tenancy.md "Roles".
DO $roles$
DECLARE
    spec record;
    r    pg_roles%ROWTYPE;
BEGIN
    FOR spec IN
        SELECT * FROM (VALUES
            ('eventsvc_anon',          false, true),
            ('eventsvc_user',          false, true),
            ('eventsvc_admin',         false, true),
            ('eventsvc_service',       false, true),
            ('eventsvc_worker',        true,  true),
            ('eventsvc_authenticator', true,  false)
        ) AS t(name, login, inherit)
    LOOP
        SELECT * INTO r FROM pg_roles WHERE rolname = spec.name;
        IF NOT FOUND THEN
            EXECUTE format('CREATE ROLE %I %s %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
                           spec.name,
                           CASE WHEN spec.login THEN 'LOGIN' ELSE 'NOLOGIN' END,
                           CASE WHEN spec.inherit THEN 'INHERIT' ELSE 'NOINHERIT' END);
        ELSIF r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication THEN
            RAISE EXCEPTION 'role "%" already exists with powers eventsvc does not give it', spec.name
                USING ERRCODE = '42501',
                      DETAIL = 'eventsvc roles must be NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION.',
                      HINT = 'Drop the role or remove those attributes, then run CREATE EXTENSION again.';
        END IF;
    END LOOP;
END
$roles$;

-- A tenant admin can do everything a tenant user can, plus the admin overrides.
GRANT eventsvc_user TO eventsvc_admin;
-- PostgREST logs in as the authenticator and switches to the role in the JWT.
GRANT eventsvc_anon, eventsvc_user, eventsvc_admin, eventsvc_service TO eventsvc_authenticator;

GRANT USAGE ON SCHEMA api TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
GRANT USAGE ON SCHEMA eventsvc TO eventsvc_user, eventsvc_service, eventsvc_worker;
-- Part 10: enumerations and the global reference tables (categories, currencies).

CREATE TYPE eventsvc.event_status AS ENUM (
    'DRAFT', 'REVIEW', 'APPROVED', 'PUBLISHED', 'ON_SALE', 'SALES_PAUSED',
    'SOLD_OUT', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED', 'POSTPONED', 'RESCHEDULED');
CREATE TYPE eventsvc.event_visibility AS ENUM ('PUBLIC', 'PRIVATE', 'UNLISTED');
CREATE TYPE eventsvc.event_type AS ENUM ('single', 'recurring', 'series');
CREATE TYPE eventsvc.schedule_status AS ENUM ('SCHEDULED', 'CONFIRMED', 'POSTPONED', 'CANCELLED', 'COMPLETED');
CREATE TYPE eventsvc.hold_state AS ENUM ('ACTIVE', 'CONFIRMED', 'RELEASED', 'EXPIRED');
CREATE TYPE eventsvc.outbox_state AS ENUM ('pending', 'published', 'dead');
CREATE TYPE eventsvc.report_status AS ENUM ('pending', 'in_progress', 'completed', 'partial', 'failed');
CREATE TYPE eventsvc.blockchain_status AS ENUM ('none', 'pending', 'queued', 'synced', 'failed');

-- Currencies and their minor units (ISO 4217 exponent). Money is stored as an
-- integer count of minor units; this table says what one unit is.
CREATE TABLE eventsvc.currencies (
    code        char(3) PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
    minor_unit  smallint NOT NULL CHECK (minor_unit BETWEEN 0 AND 4),
    name        text NOT NULL
);
INSERT INTO eventsvc.currencies VALUES
    ('USD', 2, 'US Dollar'), ('EUR', 2, 'Euro'), ('GBP', 2, 'Pound Sterling'),
    ('CAD', 2, 'Canadian Dollar'), ('AUD', 2, 'Australian Dollar'), ('CHF', 2, 'Swiss Franc'),
    ('MXN', 2, 'Mexican Peso'), ('BRL', 2, 'Brazilian Real'), ('SEK', 2, 'Swedish Krona'),
    ('JPY', 0, 'Yen'), ('KRW', 0, 'Won'), ('ISK', 0, 'Iceland Krona'),
    ('KWD', 3, 'Kuwaiti Dinar'), ('BHD', 3, 'Bahraini Dinar'), ('JOD', 3, 'Jordanian Dinar');

-- Categories are global: no tenant, no RLS, readable by every role.
CREATE TABLE eventsvc.event_categories (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    parent_id     uuid REFERENCES eventsvc.event_categories (id),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    slug          text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    description   text,
    icon          text,
    color         text CHECK (color IS NULL OR color ~ '^#[0-9A-Fa-f]{6}$'),
    display_order integer NOT NULL DEFAULT 0,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS DISTINCT FROM id)
);
INSERT INTO eventsvc.event_categories (name, slug, description, icon, color, display_order) VALUES
    ('Music',        'music',        'Concerts, festivals and live music', 'music',   '#E91E63', 1),
    ('Sports',       'sports',       'Games, matches and tournaments',      'trophy',  '#4CAF50', 2),
    ('Theater',      'theater',      'Plays, musicals and opera',           'theater', '#9C27B0', 3),
    ('Comedy',       'comedy',       'Stand-up and comedy shows',           'smile',   '#FF9800', 4),
    ('Arts',         'arts',         'Exhibitions, galleries and culture',  'palette', '#3F51B5', 5),
    ('Conference',   'conference',   'Conferences, talks and seminars',     'mic',     '#607D8B', 6),
    ('Workshop',     'workshop',     'Classes and hands-on workshops',      'tool',    '#795548', 7),
    ('Festival',     'festival',     'Multi-day festivals',                 'flag',    '#FF5722', 8),
    ('Family',       'family',       'Family and kids events',              'heart',   '#00BCD4', 9),
    ('Nightlife',    'nightlife',    'Clubs and parties',                   'moon',    '#673AB7', 10),
    ('Other',        'other',        'Everything else',                     'star',    '#9E9E9E', 99);
INSERT INTO eventsvc.event_categories (parent_id, name, slug, description, display_order)
SELECT c.id, v.name, v.slug, v.description, v.ord
  FROM (VALUES ('music', 'Rock', 'rock', 'Rock and alternative', 1),
               ('music', 'Jazz', 'jazz', 'Jazz and blues', 2),
               ('music', 'Classical', 'classical', 'Orchestral and chamber music', 3),
               ('music', 'Electronic', 'electronic', 'Electronic and dance', 4),
               ('sports', 'Football', 'football', 'Football and soccer', 1),
               ('sports', 'Basketball', 'basketball', 'Basketball', 2)) AS v(parent, name, slug, description, ord)
  JOIN eventsvc.event_categories c ON c.slug = v.parent;
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
    search_vector       tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(name, '')), 'A') ||
        setweight(to_tsvector('simple', coalesce(short_description, '')), 'B') ||
        setweight(to_tsvector('simple', coalesce(description, '')), 'C')) STORED,
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
CREATE INDEX idx_events_tenant_id ON eventsvc.events (tenant_id);
CREATE INDEX idx_events_venue_status ON eventsvc.events (tenant_id, venue_id, status);
CREATE INDEX idx_events_tenant_status ON eventsvc.events (tenant_id, status) WHERE deleted_at IS NULL;
CREATE INDEX idx_events_starts_at ON eventsvc.events (tenant_id, starts_at);
CREATE INDEX idx_events_search ON eventsvc.events USING gin (search_vector);
CREATE INDEX idx_events_featured ON eventsvc.events (tenant_id, featured_order) WHERE is_featured AND deleted_at IS NULL;

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
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, schedule_id) REFERENCES eventsvc.event_schedules (tenant_id, id),
    CONSTRAINT event_capacity_section_key UNIQUE (tenant_id, event_id, section_name),
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
CREATE TABLE eventsvc.capacity_holds (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    event_id      uuid NOT NULL,
    capacity_id   uuid NOT NULL,
    pricing_id    uuid,
    holder_id     text NOT NULL CHECK (length(holder_id) BETWEEN 1 AND 200),
    quantity      integer NOT NULL CHECK (quantity > 0),
    state         eventsvc.hold_state NOT NULL DEFAULT 'ACTIVE',
    currency      char(3) REFERENCES eventsvc.currencies (code),
    unit_price    bigint CHECK (unit_price >= 0),
    locked_price  jsonb,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    confirmed_at  timestamptz,
    released_at   timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, capacity_id) REFERENCES eventsvc.event_capacity (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id),
    FOREIGN KEY (tenant_id, pricing_id) REFERENCES eventsvc.event_pricing (tenant_id, id)
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
-- Part 25: the foundation's C functions: clock, tenancy, triggers, outbox writer.

CREATE FUNCTION eventsvc.now() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'evs_sql_now' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventsvc.now() IS
    'The clock of every date rule and hold expiry: transaction start plus eventsvc.clock_offset_seconds (superuser-only).';

CREATE FUNCTION eventsvc.current_tenant_id() RETURNS uuid
    AS 'MODULE_PATHNAME', 'evs_sql_current_tenant_id' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION eventsvc.current_tenant_id() IS
    'The caller''s tenant: JWT claim tenant_id, else app.current_tenant_id; errors (42501) when none, malformed, unknown or inactive.';

CREATE FUNCTION eventsvc.current_actor() RETURNS text
    AS 'MODULE_PATHNAME', 'evs_sql_current_actor' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION eventsvc.current_actor() IS
    'Who is acting: JWT claim sub, else app.current_user_id, else the current role name.';

CREATE FUNCTION eventsvc.is_tenant_admin() RETURNS boolean
    AS 'MODULE_PATHNAME', 'evs_sql_is_tenant_admin' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION eventsvc.version_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_version_trigger' LANGUAGE C;

CREATE FUNCTION eventsvc.audit_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_audit_trigger' LANGUAGE C
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Appends one message to the outbox in the caller's transaction (docs/outbox.md).
CREATE FUNCTION eventsvc.outbox_emit(p_tenant_id uuid, p_aggregate_id uuid, p_exchange text,
                                     p_routing_key text, p_data jsonb) RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_outbox_emit' LANGUAGE C VOLATILE PARALLEL UNSAFE
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Platform operators (superusers) create tenants; eventsvc only reads them.
CREATE FUNCTION eventsvc.create_tenant(p_name text, p_slug text, p_id uuid DEFAULT gen_random_uuid())
RETURNS uuid LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO eventsvc.tenants (id, name, slug) VALUES (p_id, p_name, p_slug) RETURNING id
$$;
-- Part 28: triggers and row-level security on every tenant table.

CREATE TRIGGER events_version BEFORE UPDATE ON eventsvc.events
    FOR EACH ROW EXECUTE FUNCTION eventsvc.version_trigger();
CREATE TRIGGER event_schedules_version BEFORE UPDATE ON eventsvc.event_schedules
    FOR EACH ROW EXECUTE FUNCTION eventsvc.version_trigger();
CREATE TRIGGER event_capacity_version BEFORE UPDATE ON eventsvc.event_capacity
    FOR EACH ROW EXECUTE FUNCTION eventsvc.version_trigger();
CREATE TRIGGER event_pricing_version BEFORE UPDATE ON eventsvc.event_pricing
    FOR EACH ROW EXECUTE FUNCTION eventsvc.version_trigger();
CREATE TRIGGER events_audit AFTER INSERT OR UPDATE OR DELETE ON eventsvc.events
    FOR EACH ROW EXECUTE FUNCTION eventsvc.audit_trigger();

-- The list of tenant tables lives here once; tests read it back from the catalog.
CREATE FUNCTION eventsvc.tenant_tables() RETURNS SETOF regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.oid::regclass
      FROM pg_class c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
     WHERE c.relnamespace = 'eventsvc'::regnamespace AND c.relkind = 'r'
    UNION ALL SELECT 'eventsvc.tenants'::regclass
$$;

-- Every tenant table: RLS enabled and forced; one policy, keyed on the caller's tenant.
-- current_tenant_id() raises when no valid tenant is set, so a missing tenant is an
-- error, never an empty filter. The worker has no policy: it reaches rows only
-- through eventsvc's SECURITY DEFINER functions.
DO $rls$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT * FROM eventsvc.tenant_tables() LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        IF t = 'eventsvc.tenants'::regclass THEN
            EXECUTE format('CREATE POLICY tenant_isolation ON %s TO eventsvc_user, eventsvc_service '
                           'USING (id = (SELECT eventsvc.current_tenant_id()))', t);
        ELSE
            EXECUTE format('CREATE POLICY tenant_isolation ON %s TO eventsvc_user, eventsvc_service '
                           'USING (tenant_id = (SELECT eventsvc.current_tenant_id())) '
                           'WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()))', t);
        END IF;
    END LOOP;
END
$rls$;
-- Part 30: the event state machine (src/state_machine.c). One transition table in C;
-- this trigger makes every writer go through it, a DBA's UPDATE included.

CREATE FUNCTION eventsvc.status_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_status_trigger' LANGUAGE C
    SET search_path = pg_catalog, pg_temp;

-- Fires only when status is in the SET list; a status left alone needs no check.
CREATE TRIGGER events_state_machine BEFORE UPDATE OF status ON eventsvc.events
    FOR EACH ROW EXECUTE FUNCTION eventsvc.status_trigger();

CREATE FUNCTION eventsvc.status_transitions(OUT from_status text, OUT to_status text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'evs_sql_status_transitions' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventsvc.status_transitions() IS
    'The edges of the event state machine, read from the C transition table.';

-- The table for clients: GET /event_transitions?from_status=eq.ON_SALE
CREATE VIEW api.event_transitions WITH (security_invoker = true) AS
SELECT from_status, to_status FROM eventsvc.status_transitions();
COMMENT ON VIEW api.event_transitions IS 'Allowed event status changes (from_status -> to_status).';

GRANT EXECUTE ON FUNCTION eventsvc.status_transitions() TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
GRANT SELECT ON api.event_transitions TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
-- Part 31: the event lifecycle API (src/lifecycle.c, docs/lifecycle.md).
-- Writers are C functions returning jsonb; readers are views and STABLE functions.
-- Everything here runs as the caller, so RLS scopes it to the caller's tenant; the
-- few rows API roles may not write themselves (outbox, idempotency keys,
-- confirmation tokens, holds, cancellation reports) are written by the C code as
-- the extension owner, always with an explicit tenant filter.

-- ---------------------------------------------------------------- documents

-- An event with its metadata, schedules, sections and pricing: the result of every
-- lifecycle write and of api.get_event.
CREATE FUNCTION eventsvc.event_document(p_event_id uuid) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (to_jsonb(e) - 'search_vector' - 'tenant_id') || jsonb_build_object(
        'metadata', (SELECT to_jsonb(m) - 'tenant_id' - 'event_id' - 'id'
                       FROM eventsvc.event_metadata m
                      WHERE m.tenant_id = e.tenant_id AND m.event_id = e.id),
        'schedules', coalesce((SELECT jsonb_agg(to_jsonb(s) - 'tenant_id' - 'event_id' ORDER BY s.starts_at, s.id)
                                 FROM eventsvc.event_schedules s
                                WHERE s.tenant_id = e.tenant_id AND s.event_id = e.id), '[]'),
        'sections', coalesce((SELECT jsonb_agg(to_jsonb(c) - 'tenant_id' - 'event_id' - 'seat_map'
                                               ORDER BY c.section_name)
                                FROM eventsvc.event_capacity c
                               WHERE c.tenant_id = e.tenant_id AND c.event_id = e.id), '[]'),
        'pricing', coalesce((SELECT jsonb_agg(to_jsonb(p) - 'tenant_id' - 'event_id'
                                              ORDER BY p.display_order, p.name)
                               FROM eventsvc.event_pricing p
                              WHERE p.tenant_id = e.tenant_id AND p.event_id = e.id), '[]'))
      FROM eventsvc.events e
     WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.id = p_event_id
$$;

-- The event part of every lifecycle outbox message (docs/outbox.md).
CREATE FUNCTION eventsvc.event_message(p_event_id uuid) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'event_id', e.id, 'venue_id', e.venue_id, 'name', e.name, 'slug', e.slug,
        'status', e.status, 'visibility', e.visibility, 'event_type', e.event_type,
        'starts_at', e.starts_at, 'ends_at', e.ends_at, 'doors_open', e.doors_open,
        'timezone', e.timezone, 'capacity', e.capacity, 'version', e.version,
        'actor', eventsvc.current_actor())
        || CASE WHEN e.artist_wallet IS NOT NULL OR e.event_pda IS NOT NULL THEN jsonb_build_object(
               'blockchain', jsonb_build_object('artist_wallet', e.artist_wallet,
                   'artist_percentage', e.artist_percentage, 'venue_percentage', e.venue_percentage,
                   'event_pda', e.event_pda, 'blockchain_status', e.blockchain_status))
           ELSE '{}' END
      FROM eventsvc.events e
     WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.id = p_event_id
$$;

-- ---------------------------------------------------------------- writers (C)

CREATE FUNCTION eventsvc.event_create(request jsonb, idempotency_key text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_event_create' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;

-- Named parameters are PostgREST's JSON keys: POST /rpc/create_event {"venue_id": ..., "name": ...}.
CREATE FUNCTION api.create_event(
    venue_id          uuid,
    name              text,
    starts_at         timestamptz DEFAULT NULL,
    ends_at           timestamptz DEFAULT NULL,
    doors_open        timestamptz DEFAULT NULL,
    timezone          text DEFAULT NULL,
    description       text DEFAULT NULL,
    short_description text DEFAULT NULL,
    category_id       uuid DEFAULT NULL,
    tags              text[] DEFAULT NULL,
    visibility        text DEFAULT NULL,
    event_type        text DEFAULT NULL,
    capacity          integer DEFAULT NULL,
    is_virtual        boolean DEFAULT NULL,
    is_hybrid         boolean DEFAULT NULL,
    virtual_event_url text DEFAULT NULL,
    image_url         text DEFAULT NULL,
    age_restriction   integer DEFAULT NULL,
    artist_wallet     text DEFAULT NULL,
    artist_percentage numeric DEFAULT NULL,
    venue_percentage  numeric DEFAULT NULL,
    event_pda         text DEFAULT NULL,
    metadata          jsonb DEFAULT NULL,
    schedules         jsonb DEFAULT NULL,
    sections          jsonb DEFAULT NULL,
    idempotency_key   text DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT eventsvc.event_create(
        (SELECT coalesce(jsonb_object_agg(f.key, f.value), '{}')
           FROM jsonb_each(jsonb_build_object(
                'venue_id', venue_id, 'name', name, 'starts_at', starts_at, 'ends_at', ends_at,
                'doors_open', doors_open, 'timezone', timezone, 'description', description,
                'short_description', short_description, 'primary_category_id', category_id,
                'tags', tags, 'visibility', visibility, 'event_type', event_type,
                'capacity', capacity, 'is_virtual', is_virtual, 'is_hybrid', is_hybrid,
                'virtual_event_url', virtual_event_url, 'image_url', image_url,
                'age_restriction', age_restriction, 'artist_wallet', artist_wallet,
                'artist_percentage', artist_percentage, 'venue_percentage', venue_percentage,
                'event_pda', event_pda, 'metadata', metadata, 'schedules', schedules,
                'sections', sections)) AS f
          WHERE f.value <> 'null'::jsonb),
        idempotency_key)
$$;
COMMENT ON FUNCTION api.create_event IS
    'Create a DRAFT event with its metadata, schedules and sections in one transaction (docs/lifecycle.md).';

CREATE FUNCTION api.update_event(event_id uuid, expected_version integer, changes jsonb,
                                 confirmation_token uuid DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_update_event' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.update_event IS
    'Change event fields at the expected version; critical changes after sales need an admin confirmation token.';

CREATE FUNCTION api.delete_event(event_id uuid, idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_delete_event' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.delete_event IS
    'Soft delete a DRAFT or CANCELLED event (deleted_at, status CANCELLED); sold tickets need a tenant admin.';

CREATE FUNCTION api.publish_event(event_id uuid, idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_publish_event' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.publish_event IS 'Move the event to PUBLISHED through the state machine.';

CREATE FUNCTION api.transition_event(event_id uuid, status text, reason text DEFAULT NULL,
                                     idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_transition_event' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.transition_event IS
    'Move the event to any status the state machine allows; CANCELLED runs the full cancellation (reason required).';

CREATE FUNCTION api.postpone_event(event_id uuid, reason text DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_postpone_event' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.postpone_event IS 'Move the event to POSTPONED; api.reschedule_event gives it new dates.';

CREATE FUNCTION api.reschedule_event(event_id uuid, starts_at timestamptz, ends_at timestamptz,
                                     doors_open timestamptz DEFAULT NULL, status text DEFAULT 'PUBLISHED',
                                     confirmation_token uuid DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_reschedule_event' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.reschedule_event IS
    'Give a POSTPONED event new dates (RESCHEDULED) and return it to PUBLISHED or ON_SALE.';

CREATE FUNCTION api.cancel_event(event_id uuid, reason text, idempotency_key text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_api_cancel_event' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.cancel_event IS
    'Cancel locally: CANCELLED, sections closed, holds released, a pending cancellation report with its saga steps.';

-- ---------------------------------------------------------------- readers

CREATE FUNCTION api.get_event(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    doc jsonb;
BEGIN
    SELECT eventsvc.event_document(e.id) INTO doc
      FROM eventsvc.events e
     WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.id = get_event.event_id AND e.deleted_at IS NULL;
    IF doc IS NULL THEN
        RAISE EXCEPTION 'event % not found', event_id USING ERRCODE = 'PT404',
            HINT = 'The event does not exist, was deleted, or belongs to another tenant.';
    END IF;
    RETURN doc;
END
$$;
COMMENT ON FUNCTION api.get_event IS 'One event with metadata, schedules, sections and pricing.';

-- page_size/page_offset rather than limit/offset: PostgREST keeps those names for its own paging.
CREATE FUNCTION api.list_events(status text DEFAULT NULL, venue_id uuid DEFAULT NULL,
                                category_id uuid DEFAULT NULL, starts_from timestamptz DEFAULT NULL,
                                starts_to timestamptz DEFAULT NULL, order_by text DEFAULT 'starts_at',
                                descending boolean DEFAULT false, page_size integer DEFAULT 20,
                                page_offset integer DEFAULT 0) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st eventsvc.event_status;
    result jsonb;
BEGIN
    IF status IS NOT NULL THEN
        IF NOT status = ANY (enum_range(NULL::eventsvc.event_status)::text[]) THEN
            RAISE EXCEPTION 'status: "%" is not an event status', status USING ERRCODE = '22023',
                HINT = 'Allowed: ' || array_to_string(enum_range(NULL::eventsvc.event_status)::text[], ', ') || '.';
        END IF;
        st := status::eventsvc.event_status;
    END IF;
    IF order_by NOT IN ('starts_at', 'created_at', 'name') THEN
        RAISE EXCEPTION 'order_by: "%" is not allowed', order_by USING ERRCODE = '22023',
            HINT = 'Allowed: starts_at, created_at, name.';
    END IF;
    IF page_size IS NULL OR page_size NOT BETWEEN 1 AND 500 THEN
        RAISE EXCEPTION 'page_size: must be between 1 and 500, got %', page_size USING ERRCODE = '22023';
    END IF;
    IF page_offset IS NULL OR page_offset < 0 THEN
        RAISE EXCEPTION 'page_offset: must be 0 or more, got %', page_offset USING ERRCODE = '22023';
    END IF;

    WITH matching AS (
        SELECT e.*
          FROM eventsvc.events e
         WHERE e.tenant_id = eventsvc.current_tenant_id() AND e.deleted_at IS NULL
           AND (st IS NULL OR e.status = st)
           AND (list_events.venue_id IS NULL OR e.venue_id = list_events.venue_id)
           AND (list_events.category_id IS NULL OR e.primary_category_id IN (
                   SELECT c.id FROM eventsvc.event_categories c
                    WHERE c.id = list_events.category_id OR c.parent_id = list_events.category_id))
           AND (starts_from IS NULL OR e.starts_at >= starts_from)
           AND (starts_to IS NULL OR e.starts_at < starts_to)
    ), page AS (
        SELECT m.* FROM matching m
         ORDER BY CASE WHEN NOT descending AND order_by = 'starts_at' THEN m.starts_at END ASC,
                  CASE WHEN descending AND order_by = 'starts_at' THEN m.starts_at END DESC,
                  CASE WHEN NOT descending AND order_by = 'created_at' THEN m.created_at END ASC,
                  CASE WHEN descending AND order_by = 'created_at' THEN m.created_at END DESC,
                  CASE WHEN NOT descending AND order_by = 'name' THEN m.name END ASC,
                  CASE WHEN descending AND order_by = 'name' THEN m.name END DESC,
                  m.id
         LIMIT page_size OFFSET page_offset
    )
    SELECT jsonb_build_object(
               'total', (SELECT count(*) FROM matching),
               'page_size', page_size, 'page_offset', page_offset,
               'items', coalesce((SELECT jsonb_agg(to_jsonb(p) - 'search_vector' - 'tenant_id'
                                   ORDER BY CASE WHEN NOT descending AND order_by = 'starts_at' THEN p.starts_at END ASC,
                                            CASE WHEN descending AND order_by = 'starts_at' THEN p.starts_at END DESC,
                                            CASE WHEN NOT descending AND order_by = 'created_at' THEN p.created_at END ASC,
                                            CASE WHEN descending AND order_by = 'created_at' THEN p.created_at END DESC,
                                            CASE WHEN NOT descending AND order_by = 'name' THEN p.name END ASC,
                                            CASE WHEN descending AND order_by = 'name' THEN p.name END DESC,
                                            p.id) FROM page p), '[]'))
      INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION api.list_events IS
    'Events of the tenant filtered by status, venue, category (with subcategories) and start range; one page plus the total.';

-- Views for PostgREST's own filtering (GET /events?status=eq.ON_SALE&order=starts_at).
-- security_invoker: RLS of the caller applies; deleted events are hidden.
CREATE VIEW api.events WITH (security_invoker = true) AS
SELECT e.id, e.venue_id, e.name, e.slug, e.description, e.short_description, e.status, e.visibility,
       e.event_type, e.primary_category_id, e.tags, e.starts_at, e.ends_at, e.doors_open, e.timezone,
       e.capacity, e.is_virtual, e.is_hybrid, e.virtual_event_url, e.image_url, e.is_featured,
       e.featured_order, e.age_restriction, e.artist_wallet, e.artist_percentage, e.venue_percentage,
       e.event_pda, e.blockchain_status, e.cancelled_at, e.cancellation_reason, e.cancelled_by,
       e.created_by, e.updated_by, e.version, e.created_at, e.updated_at
  FROM eventsvc.events e
 WHERE e.deleted_at IS NULL;
COMMENT ON VIEW api.events IS 'The tenant''s events (not deleted).';

CREATE VIEW api.event_schedules WITH (security_invoker = true) AS
SELECT s.id, s.event_id, s.starts_at, s.ends_at, s.doors_open_at, s.timezone, s.status, s.is_recurring,
       s.recurrence_rule, s.recurrence_end, s.notes, s.version, s.created_at, s.updated_at
  FROM eventsvc.event_schedules s
  JOIN eventsvc.events e ON e.tenant_id = s.tenant_id AND e.id = s.event_id
 WHERE e.deleted_at IS NULL;
COMMENT ON VIEW api.event_schedules IS 'Schedules (dates) of the tenant''s events.';

CREATE VIEW api.event_sections WITH (security_invoker = true) AS
SELECT c.id, c.event_id, c.schedule_id, c.section_name, c.section_code, c.tier, c.total_capacity,
       c.available_capacity, c.reserved_capacity, c.sold_count, c.pending_count, c.minimum_purchase,
       c.maximum_purchase, c.row_config, c.is_active, c.version, c.created_at, c.updated_at
  FROM eventsvc.event_capacity c
  JOIN eventsvc.events e ON e.tenant_id = c.tenant_id AND e.id = c.event_id
 WHERE e.deleted_at IS NULL;
COMMENT ON VIEW api.event_sections IS 'Capacity sections of the tenant''s events, with their counters.';

CREATE VIEW api.event_pricing_tiers WITH (security_invoker = true) AS
SELECT p.id, p.event_id, p.schedule_id, p.capacity_id, p.name, p.description, p.tier, p.currency,
       p.base_price, p.current_price, p.service_fee, p.facility_fee, p.tax_rate, p.is_dynamic,
       p.min_price, p.max_price, p.early_bird_price, p.early_bird_ends_at, p.last_minute_price,
       p.last_minute_starts_at, p.group_size_min, p.group_discount_percentage, p.sales_start_at,
       p.sales_end_at, p.max_per_order, p.max_per_customer, p.is_active, p.is_visible,
       p.display_order, p.version, p.created_at, p.updated_at
  FROM eventsvc.event_pricing p
  JOIN eventsvc.events e ON e.tenant_id = p.tenant_id AND e.id = p.event_id
 WHERE e.deleted_at IS NULL;
COMMENT ON VIEW api.event_pricing_tiers IS 'Price tiers of the tenant''s events (amounts in minor units).';

CREATE VIEW api.event_cancellation_reports WITH (security_invoker = true) AS
SELECT r.id, r.event_id, r.status, r.reason, r.cancelled_by, r.holds_released, r.tickets_found,
       r.tickets_cancelled, r.refunds_requested, r.listings_cancelled, r.notifications_sent,
       r.failed_steps, r.report, r.created_at, r.updated_at, r.completed_at,
       (SELECT jsonb_agg(jsonb_build_object('step_no', s.step_no, 'step', s.step, 'state', s.state,
                                            'attempts', s.attempts, 'last_error', s.last_error)
                         ORDER BY s.step_no)
          FROM eventsvc.cancellation_steps s
         WHERE s.tenant_id = r.tenant_id AND s.report_id = r.id) AS steps
  FROM eventsvc.event_cancellation_reports r;
COMMENT ON VIEW api.event_cancellation_reports IS 'Cancellation reports and the state of each saga step.';

-- ---------------------------------------------------------------- grants

GRANT EXECUTE ON FUNCTION eventsvc.event_document(uuid), eventsvc.event_message(uuid)
    TO eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION eventsvc.event_create(jsonb, text) TO eventsvc_user;
GRANT EXECUTE ON FUNCTION
    api.create_event(uuid, text, timestamptz, timestamptz, timestamptz, text, text, text, uuid, text[],
                     text, text, integer, boolean, boolean, text, text, integer, text, numeric, numeric,
                     text, jsonb, jsonb, jsonb, text),
    api.update_event(uuid, integer, jsonb, uuid, text),
    api.delete_event(uuid, text),
    api.publish_event(uuid, text),
    api.transition_event(uuid, text, text, text),
    api.postpone_event(uuid, text, text),
    api.reschedule_event(uuid, timestamptz, timestamptz, timestamptz, text, uuid, text),
    api.cancel_event(uuid, text, text)
    TO eventsvc_user;
GRANT EXECUTE ON FUNCTION api.get_event(uuid),
    api.list_events(text, uuid, uuid, timestamptz, timestamptz, text, boolean, integer, integer)
    TO eventsvc_user, eventsvc_service;
GRANT SELECT ON api.events, api.event_schedules, api.event_sections, api.event_pricing_tiers,
                api.event_cancellation_reports
    TO eventsvc_user, eventsvc_service;
-- Part 40: capacity sections, holds and pricing tiers (docs/capacity.md, docs/money.md).
-- The rules live in C triggers so every writer meets them; the api functions are
-- thin. Hold rows change only through the C hold functions (seat counters).

-- ---------------------------------------------------------------- triggers

CREATE FUNCTION eventsvc.pricing_validate_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_pricing_validate_trigger' LANGUAGE C;
CREATE TRIGGER event_pricing_validate BEFORE INSERT OR UPDATE ON eventsvc.event_pricing
    FOR EACH ROW EXECUTE FUNCTION eventsvc.pricing_validate_trigger();

CREATE FUNCTION eventsvc.section_validate_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_section_validate_trigger' LANGUAGE C;
CREATE TRIGGER event_capacity_validate BEFORE INSERT OR UPDATE ON eventsvc.event_capacity
    FOR EACH ROW EXECUTE FUNCTION eventsvc.section_validate_trigger();

-- Hold rows have no foreign keys: every reservation would take a key-share lock
-- on its section, event, tier and currency rows, and on a hot section those locks
-- queue every buyer (one multixact per concurrent buyer). The C hold path reads
-- and checks all four before it inserts; deletes of sections are guarded below
-- through the seat counter, of tiers by the trigger after it. docs/capacity.md.
ALTER TABLE eventsvc.capacity_holds
    DROP CONSTRAINT capacity_holds_tenant_id_capacity_id_fkey,
    DROP CONSTRAINT capacity_holds_tenant_id_event_id_fkey,
    DROP CONSTRAINT capacity_holds_tenant_id_pricing_id_fkey,
    DROP CONSTRAINT capacity_holds_currency_fkey;

CREATE FUNCTION eventsvc.section_delete_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_section_delete_trigger' LANGUAGE C;
CREATE TRIGGER event_capacity_delete_guard BEFORE DELETE ON eventsvc.event_capacity
    FOR EACH ROW EXECUTE FUNCTION eventsvc.section_delete_trigger();

CREATE FUNCTION eventsvc.pricing_delete_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM eventsvc.capacity_holds h
                WHERE h.tenant_id = OLD.tenant_id AND h.pricing_id = OLD.id) THEN
        RAISE EXCEPTION 'cannot delete a pricing tier that holds refer to'
            USING ERRCODE = 'PT409', HINT = 'Deactivate the tier (is_active = false) instead.';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER event_pricing_delete_guard BEFORE DELETE ON eventsvc.event_pricing
    FOR EACH ROW EXECUTE FUNCTION eventsvc.pricing_delete_trigger();

-- Direct DML on holds would bypass the seat counters: refused for everyone.
-- Once per statement: the sweep changes 100 000 rows in one statement.
CREATE FUNCTION eventsvc.hold_guard_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_hold_guard_trigger' LANGUAGE C;
CREATE TRIGGER capacity_holds_guard BEFORE INSERT OR UPDATE OR DELETE ON eventsvc.capacity_holds
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.hold_guard_trigger();
CREATE TRIGGER capacity_holds_guard_truncate BEFORE TRUNCATE ON eventsvc.capacity_holds
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.hold_guard_trigger();

-- ---------------------------------------------------------------- money and pricing

CREATE FUNCTION api.calculate_price(pricing_id uuid, quantity integer) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_calculate_price' LANGUAGE C STABLE;
COMMENT ON FUNCTION api.calculate_price(uuid, integer) IS
    'Exact price of quantity tickets of a tier at eventsvc.now(): integers in minor units, tax rounded half-even once per line (docs/money.md).';

CREATE FUNCTION api.active_pricing(capacity_id uuid, at timestamptz DEFAULT NULL) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_active_pricing' LANGUAGE C STABLE;
COMMENT ON FUNCTION api.active_pricing(uuid, timestamptz) IS
    'The tier that sells a section at a moment (default now) and its unit price kind: early_bird, last_minute, dynamic or base. NULL when none is on sale.';

CREATE FUNCTION api.update_dynamic_price(pricing_id uuid, price bigint, expected_version integer) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_update_dynamic_price'
    LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.update_dynamic_price(uuid, bigint, integer) IS
    'Moves a dynamic tier''s current price within [min_price, max_price]; versioned; emits pricing.price_changed.';

CREATE FUNCTION api.create_pricing(
    event_id uuid, name text, base_price bigint,
    currency text DEFAULT 'USD', capacity_id uuid DEFAULT NULL, tier text DEFAULT NULL,
    description text DEFAULT NULL, service_fee bigint DEFAULT 0, facility_fee bigint DEFAULT 0,
    tax_rate numeric DEFAULT 0, is_dynamic boolean DEFAULT false, min_price bigint DEFAULT NULL,
    max_price bigint DEFAULT NULL, early_bird_price bigint DEFAULT NULL,
    early_bird_ends_at timestamptz DEFAULT NULL, last_minute_price bigint DEFAULT NULL,
    last_minute_starts_at timestamptz DEFAULT NULL, group_size_min integer DEFAULT NULL,
    group_discount_percentage numeric DEFAULT NULL, sales_start_at timestamptz DEFAULT NULL,
    sales_end_at timestamptz DEFAULT NULL, max_per_order integer DEFAULT NULL,
    max_per_customer integer DEFAULT NULL, display_order integer DEFAULT 0)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r eventsvc.event_pricing;
BEGIN
    -- Checked here, not only in the trigger: the char(3) column would refuse a long code
    -- with a raw "value too long" before any trigger runs.
    IF create_pricing.currency IS NULL OR create_pricing.currency !~ '^[A-Za-z]{3}$' THEN
        RAISE EXCEPTION 'invalid pricing tier: currency must be a 3-letter ISO 4217 code'
            USING ERRCODE = '22023', HINT = 'For example USD or EUR.';
    END IF;
    -- Exact decimals only: a rate with more digits than the column keeps is refused, not rounded.
    IF tax_rate IS NOT NULL AND tax_rate <> round(tax_rate, 8) THEN
        RAISE EXCEPTION 'invalid pricing tier: tax_rate has more than 8 decimal places'
            USING ERRCODE = '22023';
    END IF;
    IF group_discount_percentage IS NOT NULL AND group_discount_percentage <> round(group_discount_percentage, 2) THEN
        RAISE EXCEPTION 'invalid pricing tier: group_discount_percentage has more than 2 decimal places'
            USING ERRCODE = '22023';
    END IF;
    IF tax_rate IS NOT NULL AND (tax_rate < 0 OR tax_rate > 1) THEN
        RAISE EXCEPTION 'invalid pricing tier: tax_rate must be between 0 and 1'
            USING ERRCODE = '22023', HINT = 'Write 8.25 % as 0.0825.';
    END IF;
    IF group_discount_percentage IS NOT NULL AND (group_discount_percentage < 0 OR group_discount_percentage > 100) THEN
        RAISE EXCEPTION 'invalid pricing tier: group_discount_percentage must be between 0 and 100'
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO eventsvc.event_pricing AS p
        (tenant_id, event_id, capacity_id, name, description, tier, currency, base_price,
         service_fee, facility_fee, tax_rate, is_dynamic, min_price, max_price, current_price,
         early_bird_price, early_bird_ends_at, last_minute_price, last_minute_starts_at,
         group_size_min, group_discount_percentage, sales_start_at, sales_end_at,
         max_per_order, max_per_customer, display_order)
    VALUES (eventsvc.current_tenant_id(), create_pricing.event_id, create_pricing.capacity_id,
            create_pricing.name, create_pricing.description, create_pricing.tier,
            upper(create_pricing.currency), create_pricing.base_price,
            coalesce(create_pricing.service_fee, 0), coalesce(create_pricing.facility_fee, 0),
            coalesce(create_pricing.tax_rate, 0), coalesce(create_pricing.is_dynamic, false),
            create_pricing.min_price, create_pricing.max_price,
            CASE WHEN create_pricing.is_dynamic THEN create_pricing.base_price END,
            create_pricing.early_bird_price, create_pricing.early_bird_ends_at,
            create_pricing.last_minute_price, create_pricing.last_minute_starts_at,
            create_pricing.group_size_min, create_pricing.group_discount_percentage,
            create_pricing.sales_start_at, create_pricing.sales_end_at,
            create_pricing.max_per_order, create_pricing.max_per_customer,
            coalesce(create_pricing.display_order, 0))
    RETURNING * INTO r;
    RETURN to_jsonb(r) - 'tenant_id';
END
$$;
COMMENT ON FUNCTION api.create_pricing IS 'Creates a pricing tier; amounts in minor units; the tier rules are in docs/money.md.';

-- The check update_pricing and update_section share: `changes` is a JSON object
-- naming only fields in `allowed` (`what` names the object, `hint_tail` ends the hint).
CREATE FUNCTION eventsvc.check_changes(changes jsonb, allowed text[], what text, hint_tail text)
RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad text[];
BEGIN
    IF changes IS NULL OR jsonb_typeof(changes) <> 'object' THEN
        RAISE EXCEPTION 'changes must be a JSON object' USING ERRCODE = '22023';
    END IF;
    SELECT array_agg(k ORDER BY k) INTO bad FROM jsonb_object_keys(changes) k WHERE k <> ALL (allowed);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'these % fields cannot be changed: %', what, array_to_string(bad, ', ')
            USING ERRCODE = '22023', HINT = 'Changeable: ' || array_to_string(allowed, ', ') || coalesce(hint_tail, '');
    END IF;
END
$$;
COMMENT ON FUNCTION eventsvc.check_changes(jsonb, text[], text, text) IS
    'Refuses a changes object that is not a JSON object or names a field outside allowed.';

-- The fields update_pricing may change; the rest (ids, event, version, timestamps) are fixed.
CREATE FUNCTION api.update_pricing(pricing_id uuid, expected_version integer, changes jsonb)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    allowed constant text[] := ARRAY['name', 'description', 'tier', 'capacity_id', 'currency', 'base_price',
        'service_fee', 'facility_fee', 'tax_rate', 'is_dynamic', 'min_price', 'max_price', 'current_price',
        'early_bird_price', 'early_bird_ends_at', 'last_minute_price', 'last_minute_starts_at',
        'group_size_min', 'group_discount_percentage', 'sales_start_at', 'sales_end_at', 'max_per_order',
        'max_per_customer', 'is_active', 'is_visible', 'display_order'];
    cur eventsvc.event_pricing;
    nxt eventsvc.event_pricing;
BEGIN
    IF pricing_id IS NULL OR expected_version IS NULL THEN
        RAISE EXCEPTION 'update_pricing needs pricing_id and expected_version' USING ERRCODE = '22023';
    END IF;
    PERFORM eventsvc.check_changes(changes, allowed, 'pricing', '');
    -- (jsonb_populate_record into the char(3) column would fail with a raw "value too long")
    IF changes ? 'currency' AND (jsonb_typeof(changes -> 'currency') <> 'string'
                                 OR (changes ->> 'currency') !~ '^[A-Za-z]{3}$') THEN
        RAISE EXCEPTION 'invalid pricing tier: currency must be a 3-letter ISO 4217 code'
            USING ERRCODE = '22023', HINT = 'For example USD or EUR.';
    END IF;
    SELECT * INTO cur FROM eventsvc.event_pricing p
     WHERE p.tenant_id = eventsvc.current_tenant_id() AND p.id = pricing_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pricing tier % not found', pricing_id USING ERRCODE = 'PT404';
    END IF;
    IF cur.version <> expected_version THEN
        RAISE EXCEPTION 'pricing tier was changed by someone else'
            USING ERRCODE = 'PT409', DETAIL = format('Expected version %s, current version %s.', expected_version, cur.version),
                  HINT = 'Reload the tier and try again.';
    END IF;
    nxt := jsonb_populate_record(cur, changes);
    UPDATE eventsvc.event_pricing p SET
        name = nxt.name, description = nxt.description, tier = nxt.tier, capacity_id = nxt.capacity_id,
        currency = upper(nxt.currency), base_price = nxt.base_price, service_fee = nxt.service_fee,
        facility_fee = nxt.facility_fee, tax_rate = nxt.tax_rate, is_dynamic = nxt.is_dynamic,
        min_price = nxt.min_price, max_price = nxt.max_price, current_price = nxt.current_price,
        early_bird_price = nxt.early_bird_price, early_bird_ends_at = nxt.early_bird_ends_at,
        last_minute_price = nxt.last_minute_price, last_minute_starts_at = nxt.last_minute_starts_at,
        group_size_min = nxt.group_size_min, group_discount_percentage = nxt.group_discount_percentage,
        sales_start_at = nxt.sales_start_at, sales_end_at = nxt.sales_end_at,
        max_per_order = nxt.max_per_order, max_per_customer = nxt.max_per_customer,
        is_active = nxt.is_active, is_visible = nxt.is_visible, display_order = nxt.display_order,
        version = expected_version, updated_at = now()
     WHERE p.tenant_id = cur.tenant_id AND p.id = cur.id
    RETURNING * INTO nxt;
    RETURN to_jsonb(nxt) - 'tenant_id';
END
$$;
COMMENT ON FUNCTION api.update_pricing(uuid, integer, jsonb) IS
    'Changes a pricing tier (fields in changes; explicit null clears) if it is still at expected_version.';

-- ---------------------------------------------------------------- sections

CREATE FUNCTION api.create_section(
    event_id uuid, section_name text, total_capacity integer,
    section_code text DEFAULT NULL, tier text DEFAULT NULL, schedule_id uuid DEFAULT NULL,
    minimum_purchase integer DEFAULT 1, maximum_purchase integer DEFAULT NULL,
    row_config jsonb DEFAULT NULL, seat_map jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO eventsvc.event_capacity AS c
        (tenant_id, event_id, schedule_id, section_name, section_code, tier, total_capacity,
         available_capacity, minimum_purchase, maximum_purchase, row_config, seat_map)
    VALUES (eventsvc.current_tenant_id(), create_section.event_id, create_section.schedule_id,
            create_section.section_name, create_section.section_code, create_section.tier,
            create_section.total_capacity, greatest(create_section.total_capacity, 0),
            coalesce(create_section.minimum_purchase, 1), create_section.maximum_purchase,
            create_section.row_config, create_section.seat_map)
    RETURNING to_jsonb(c) - 'tenant_id'
$$;
COMMENT ON FUNCTION api.create_section IS
    'Creates a capacity section; all active sections of an event must fit in the venue.';

CREATE FUNCTION api.update_section(capacity_id uuid, expected_version integer, changes jsonb)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    allowed constant text[] := ARRAY['section_name', 'section_code', 'tier', 'total_capacity',
        'minimum_purchase', 'maximum_purchase', 'row_config', 'seat_map', 'is_active'];
    cur eventsvc.event_capacity;
    nxt eventsvc.event_capacity;
BEGIN
    IF capacity_id IS NULL OR expected_version IS NULL THEN
        RAISE EXCEPTION 'update_section needs capacity_id and expected_version' USING ERRCODE = '22023';
    END IF;
    PERFORM eventsvc.check_changes(changes, allowed, 'section', '. Seat counts follow from the holds.');
    SELECT * INTO cur FROM eventsvc.event_capacity c
     WHERE c.tenant_id = eventsvc.current_tenant_id() AND c.id = capacity_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'section % not found', capacity_id USING ERRCODE = 'PT404';
    END IF;
    IF cur.version <> expected_version THEN
        RAISE EXCEPTION 'section was changed by someone else'
            USING ERRCODE = 'PT409', DETAIL = format('Expected version %s, current version %s.', expected_version, cur.version),
                  HINT = 'Reload the section and try again.';
    END IF;
    nxt := jsonb_populate_record(cur, changes);
    -- The row's counters are a refreshed copy (eventsvc.check_capacity); keep them inside the new total.
    UPDATE eventsvc.event_capacity c SET
        section_name = nxt.section_name, section_code = nxt.section_code, tier = nxt.tier,
        total_capacity = nxt.total_capacity,
        available_capacity = greatest(nxt.total_capacity - cur.reserved_capacity - cur.sold_count, 0),
        minimum_purchase = nxt.minimum_purchase, maximum_purchase = nxt.maximum_purchase,
        row_config = nxt.row_config, seat_map = nxt.seat_map, is_active = nxt.is_active,
        version = expected_version, updated_at = now()
     WHERE c.tenant_id = cur.tenant_id AND c.id = cur.id
    RETURNING * INTO nxt;
    RETURN to_jsonb(nxt) - 'tenant_id';
END
$$;
COMMENT ON FUNCTION api.update_section(uuid, integer, jsonb) IS
    'Changes a section if it is still at expected_version; total_capacity cannot go below the seats held or sold.';

-- ---------------------------------------------------------------- holds

-- No SECURITY DEFINER and no SET clause here, on purpose: the C body gives itself
-- the schema owner's rights and pg_catalog as its only search path
-- (evs_enter_as_definer in src/lifecycle_spi.c), the same as SECURITY DEFINER
-- SET search_path = pg_catalog, pg_temp without the GUC work a SET clause costs
-- on every call (docs/capacity.md, "What a reservation costs").
CREATE FUNCTION api.reserve_capacity(capacity_id uuid, quantity integer, pricing_id uuid DEFAULT NULL,
                                     holder_id text DEFAULT NULL, hold_seconds integer DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'evs_sql_reserve_capacity'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION api.reserve_capacity(uuid, integer, uuid, text, integer) IS
    'Holds quantity seats of a section for holder_id (default: the caller) until the hold expires, at a locked price. PT409 when sold out (says how many remain).';

CREATE FUNCTION api.confirm_hold(hold_id uuid) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_confirm_hold'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.confirm_hold(uuid) IS
    'Turns an active, unexpired hold into sold seats at its locked price; PT410 when it expired or was released.';

CREATE FUNCTION api.release_hold(hold_id uuid) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_release_hold'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.release_hold(uuid) IS 'Gives an active hold''s seats back.';

CREATE FUNCTION api.extend_hold(hold_id uuid, seconds integer) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_extend_hold'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.extend_hold(uuid, integer) IS
    'Moves an active hold''s expiry later by seconds, at most eventsvc.hold_max_seconds after its creation.';

CREATE FUNCTION api.expire_holds(max_rows integer DEFAULT 1000) RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_expire_holds'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.expire_holds(integer) IS
    'Expires up to max_rows overdue holds of every tenant (for pg_cron and the worker); returns how many.';

CREATE FUNCTION eventsvc.sweep_horizon() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'evs_sql_sweep_horizon' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION eventsvc.sweep_horizon() IS
    'Where the next expiry sweep of this database starts reading holds (no ACTIVE hold expires before it); NULL: from the beginning (after a start, or without shared_preload_libraries).';

CREATE FUNCTION eventsvc.release_event_holds(event_id uuid) RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_release_event_holds'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION eventsvc.check_capacity(capacity_id uuid) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_check_capacity'
    LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION eventsvc.check_capacity(uuid) IS
    'Recomputes a section from its hold rows, compares with its seat counter (drift), refreshes the row counters.';

CREATE FUNCTION eventsvc.escrow_state(capacity_id uuid) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'evs_sql_escrow_state' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION eventsvc.escrow_reset(capacity_id uuid) RETURNS boolean
    AS 'MODULE_PATHNAME', 'evs_sql_escrow_reset' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Live seats per section in one query: api.section_availability (part 64) reads
-- the hold rows, which are the truth; the row's counters are a refreshed copy.

CREATE VIEW api.holds WITH (security_invoker = true) AS
SELECT h.id, h.event_id, h.capacity_id, h.pricing_id, h.holder_id, h.quantity, h.state, h.currency,
       h.unit_price, h.locked_price, h.expires_at, h.created_at, h.confirmed_at, h.released_at
  FROM eventsvc.capacity_holds h;
COMMENT ON VIEW api.holds IS 'Holds of the tenant (one row per hold).';

-- ---------------------------------------------------------------- grants

GRANT EXECUTE ON FUNCTION api.calculate_price(uuid, integer), api.active_pricing(uuid, timestamptz),
                          api.reserve_capacity(uuid, integer, uuid, text, integer),
                          api.confirm_hold(uuid), api.release_hold(uuid), api.extend_hold(uuid, integer)
    TO eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION api.create_pricing, api.update_pricing(uuid, integer, jsonb),
                          api.update_dynamic_price(uuid, bigint, integer),
                          api.create_section, api.update_section(uuid, integer, jsonb)
    TO eventsvc_user;
GRANT EXECUTE ON FUNCTION eventsvc.check_changes(jsonb, text[], text, text) TO eventsvc_user;
GRANT EXECUTE ON FUNCTION api.expire_holds(integer) TO eventsvc_service, eventsvc_worker;
GRANT EXECUTE ON FUNCTION eventsvc.sweep_horizon() TO eventsvc_admin, eventsvc_service, eventsvc_worker;
GRANT EXECUTE ON FUNCTION eventsvc.release_event_holds(uuid), eventsvc.check_capacity(uuid)
    TO eventsvc_admin, eventsvc_service;
GRANT EXECUTE ON FUNCTION eventsvc.pricing_validate_trigger(), eventsvc.section_validate_trigger(),
                          eventsvc.hold_guard_trigger(), eventsvc.section_delete_trigger(),
                          eventsvc.pricing_delete_trigger()
    TO eventsvc_user, eventsvc_service, eventsvc_worker;
GRANT SELECT ON api.holds TO eventsvc_user, eventsvc_service;
-- Part 41: event-wide capacity thresholds (docs/capacity.md "Thresholds").
-- One row per event with sections: the highest line (80 or 95 % of the event's
-- seats) whose crossing has been reported and not undone since, written only by
-- the reservation path (src/thresholds.c) under the event's threshold lock, in
-- the same transaction as the outbox message it stands for, so a rolled-back
-- reservation takes its message and its state change with it.
-- sections_version moves whenever the event's set of active sections or their
-- seats change (trigger below): the reservation path keeps the section list per
-- session and re-reads it only when this number moved.
CREATE TABLE eventsvc.event_capacity_thresholds (
    tenant_id        uuid NOT NULL,
    event_id         uuid NOT NULL,
    level            smallint NOT NULL DEFAULT 0 CHECK (level IN (0, 80, 95)),
    changes          bigint NOT NULL DEFAULT 0 CHECK (changes >= 0),
    sections_version bigint NOT NULL DEFAULT 0 CHECK (sections_version >= 0),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE eventsvc.event_capacity_thresholds IS
    'Event-wide threshold state: level = highest of 80/95 % reported for the current crossing; changes counts its writes; sections_version counts changes of the event''s sections.';
-- Tenant data like every other table: RLS forced; no API role has a policy or a
-- grant, only eventsvc's SECURITY DEFINER functions touch it.
ALTER TABLE eventsvc.event_capacity_thresholds ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_capacity_thresholds FORCE ROW LEVEL SECURITY;

-- A section added, removed, resized, (de)activated or moved: its event's (events')
-- section list changed. A deleted section only bumps an existing row: when the
-- whole event is being deleted, its row is already gone and must not come back.
CREATE FUNCTION eventsvc.event_sections_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.event_id IS DISTINCT FROM NEW.event_id) THEN
        UPDATE eventsvc.event_capacity_thresholds t SET sections_version = t.sections_version + 1
         WHERE t.tenant_id = OLD.tenant_id AND t.event_id = OLD.event_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO eventsvc.event_capacity_thresholds AS t (tenant_id, event_id, sections_version)
        VALUES (NEW.tenant_id, NEW.event_id, 1)
        ON CONFLICT (tenant_id, event_id) DO UPDATE SET sections_version = t.sections_version + 1;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION eventsvc.event_sections_changed() FROM PUBLIC;
CREATE TRIGGER event_capacity_sections_changed AFTER INSERT OR DELETE ON eventsvc.event_capacity
    FOR EACH ROW EXECUTE FUNCTION eventsvc.event_sections_changed();
CREATE TRIGGER event_capacity_sections_updated AFTER UPDATE OF total_capacity, is_active, event_id
    ON eventsvc.event_capacity FOR EACH ROW
    WHEN (OLD.total_capacity IS DISTINCT FROM NEW.total_capacity OR OLD.is_active IS DISTINCT FROM NEW.is_active
          OR OLD.event_id IS DISTINCT FROM NEW.event_id)
    EXECUTE FUNCTION eventsvc.event_sections_changed();
-- Part 42: the reference generation (docs/capacity.md "Reference rows").
-- The hold path keeps, per backend, copies of the rows it reads on every
-- reservation (the tenant, the section, its event's status, the tier and its
-- currency) and uses them while the shared reference generation stays the
-- same (src/refcache.c). Every statement that changes those rows raises it
-- here; the changing transaction raises it again when it ends. The column
-- lists name every column of events and event_capacity the hold path reads
-- (src/capacity.c section_load): derived counters and descriptions do not
-- drop the copies. ENABLE ALWAYS: a session in replica mode raises it too.
CREATE FUNCTION eventsvc.reference_rows_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'evs_refcache_trigger' LANGUAGE C;
CREATE FUNCTION eventsvc.reference_generation() RETURNS bigint
    AS 'MODULE_PATHNAME', 'evs_sql_reference_generation' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION eventsvc.reference_generation() IS
    'Raised by every change to tenants, events (status, deletion), sections (seats, limits, activity), tiers and currencies; backends reload their copies of those rows when it moves. NULL without shared_preload_libraries (nothing is kept then).';

CREATE TRIGGER tenants_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON eventsvc.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER events_reference AFTER INSERT OR DELETE OR TRUNCATE ON eventsvc.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER events_reference_update AFTER UPDATE OF tenant_id, id, status, deleted_at ON eventsvc.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER event_capacity_reference AFTER INSERT OR DELETE OR TRUNCATE ON eventsvc.event_capacity
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER event_capacity_reference_update
    AFTER UPDATE OF tenant_id, id, event_id, total_capacity, minimum_purchase, maximum_purchase, is_active
    ON eventsvc.event_capacity FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER event_pricing_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON eventsvc.event_pricing
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
CREATE TRIGGER currencies_reference AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON eventsvc.currencies
    FOR EACH STATEMENT EXECUTE FUNCTION eventsvc.reference_rows_changed();
ALTER TABLE eventsvc.tenants ENABLE ALWAYS TRIGGER tenants_reference;
ALTER TABLE eventsvc.events ENABLE ALWAYS TRIGGER events_reference;
ALTER TABLE eventsvc.events ENABLE ALWAYS TRIGGER events_reference_update;
ALTER TABLE eventsvc.event_capacity ENABLE ALWAYS TRIGGER event_capacity_reference;
ALTER TABLE eventsvc.event_capacity ENABLE ALWAYS TRIGGER event_capacity_reference_update;
ALTER TABLE eventsvc.event_pricing ENABLE ALWAYS TRIGGER event_pricing_reference;
ALTER TABLE eventsvc.currencies ENABLE ALWAYS TRIGGER currencies_reference;
GRANT EXECUTE ON FUNCTION eventsvc.reference_generation() TO eventsvc_admin, eventsvc_service, eventsvc_worker;
-- Part 50: the background worker's SQL surface (docs/operations.md).
-- The worker runs every statement as eventsvc_worker, a role with no table
-- rights and no RLS policy; it reaches the outbox only through these
-- SECURITY DEFINER functions, each granted to eventsvc_worker alone.
-- Leases and backoff use the real clock (now()), not eventsvc.now(): they
-- measure the worker's own progress, not business time.

-- Room on each page for a second version of every row, so that claiming a row
-- (lease columns only, no indexed column) is a HOT update: no index entries.
-- Measured on 50,000 rows claimed and settled 1,000 at a time: the claims took
-- 3.3 s at fillfactor 70 (27 % of them HOT) and 2.0 s at 40 (all HOT).
ALTER TABLE eventsvc.outbox SET (fillfactor = 40);

-- Failed rows and the status view look these up without scanning published rows.
CREATE INDEX idx_outbox_dead ON eventsvc.outbox (id) WHERE state = 'dead';

-- The order probe of relay_claim uses this index only: its predicate and the
-- probe's are written "state < 'published'" (the enum's order: pending,
-- published, dead), which the pending indexes' predicate does not match, so a
-- planner misled by stale statistics cannot walk the id-ordered pending index
-- for every probe instead (measured: 0.4 ms per probe, 100 ms per claim).
CREATE INDEX idx_outbox_unfinished ON eventsvc.outbox (tenant_id, aggregate_id, id)
    WHERE state < 'published';

-- Claim up to p_limit deliverable rows: pending, due, not leased, and the first
-- unfinished row of their aggregate (so a row is only ever sent after every
-- earlier row of the same event was published). Leased for p_lease_seconds.
--
-- Written as a loop of small statements on purpose. The statistics of a queue
-- table are nearly always wrong (ANALYZE ran when 0 rows were pending); a
-- single join lets the planner pick nested loops that walk the whole pending
-- index once per row (seconds per claim, measured). Here the head of the queue
-- is read by an ordered scan of the pending index that stops early, and each
-- head row gets one indexed probe for an earlier unfinished row of its event.
CREATE FUNCTION eventsvc.relay_claim(p_worker integer, p_limit integer, p_lease_seconds integer)
RETURNS TABLE (tenant_id uuid, id bigint, message_id uuid, exchange text, routing_key text,
               payload jsonb, created_at timestamptz, sequence bigint, attempts integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET enable_bitmapscan = off SET enable_seqscan = off AS $$
DECLARE
    r record;
    n integer := 0;
    tenants uuid[] := '{}';
    ids bigint[] := '{}';
    seen uuid[] := '{}';
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_lease_seconds IS NULL OR p_lease_seconds < 1 THEN
        RAISE EXCEPTION 'relay_claim needs a limit and a lease of at least 1'
            USING ERRCODE = '22023';
    END IF;
    FOR r IN
        SELECT o.tenant_id AS t, o.id AS i, o.aggregate_id AS a
          FROM eventsvc.outbox o
         WHERE o.state = 'pending'
           AND o.next_attempt_at <= pg_catalog.now()
           AND (o.lease_until IS NULL OR o.lease_until < pg_catalog.now())
         ORDER BY o.id
         LIMIT p_limit * 2
           FOR UPDATE SKIP LOCKED
    LOOP
        -- a second row of an event in this head waits for the first
        CONTINUE WHEN r.a = ANY (seen);
        seen := seen || r.a;
        CONTINUE WHEN EXISTS (SELECT 1 FROM eventsvc.outbox e
                               WHERE e.tenant_id = r.t AND e.aggregate_id = r.a
                                 AND e.state < 'published'::eventsvc.outbox_state AND e.id < r.i);
        tenants := tenants || r.t;
        ids := ids || r.i;
        n := n + 1;
        EXIT WHEN n >= p_limit;
    END LOOP;
    IF n = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH u AS (
        UPDATE eventsvc.outbox o
           SET claimed_at = pg_catalog.now(), claimed_by = p_worker,
               lease_until = pg_catalog.now() + pg_catalog.make_interval(secs => p_lease_seconds)
          FROM ROWS FROM (pg_catalog.unnest(tenants), pg_catalog.unnest(ids)) AS x(t, i)
         WHERE o.tenant_id = x.t AND o.id = x.i
        RETURNING o.tenant_id, o.id, o.message_id, o.exchange, o.routing_key, o.payload,
                  o.created_at, o.sequence, o.attempts)
    SELECT * FROM u ORDER BY u.id;
END
$$;

-- Settling (below): each row is found by its primary key. The state test is
-- written on state::text so that no partial index (whose row counts the
-- statistics nearly always get wrong) can be chosen for the join; other join
-- methods are off for the same reason (measured: a hash join over every pending
-- row, or 5 s through the wrong index, instead of 15 ms).

-- Confirmed by the broker.
CREATE FUNCTION eventsvc.relay_published(p_tenants uuid[], p_ids bigint[]) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
    WITH u AS (
        UPDATE eventsvc.outbox o
           SET state = 'published', published_at = pg_catalog.now(), attempts = o.attempts + 1,
               lease_until = NULL, last_error = NULL
          FROM ROWS FROM (pg_catalog.unnest(p_tenants), pg_catalog.unnest(p_ids)) AS x(t, i)
         WHERE o.tenant_id = x.t AND o.id = x.i AND o.state::text = 'pending'
        RETURNING 1)
    SELECT pg_catalog.count(*)::integer FROM u
$$;

-- Returned (unroutable) or rejected: the row's own fault. Retry after a delay
-- drawn uniformly from [0, min(max, base * 2^attempts)) ("full jitter"), dead
-- once the attempts reach p_max_attempts.
CREATE FUNCTION eventsvc.relay_failed(p_tenants uuid[], p_ids bigint[], p_errors text[],
                                      p_max_attempts integer, p_base_ms integer, p_max_ms integer)
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
    WITH u AS (
        UPDATE eventsvc.outbox o
           SET attempts = o.attempts + 1,
               state = CASE WHEN o.attempts + 1 >= p_max_attempts THEN 'dead'::eventsvc.outbox_state
                            ELSE 'pending'::eventsvc.outbox_state END,
               next_attempt_at = pg_catalog.now() + pg_catalog.make_interval(secs =>
                   pg_catalog.random() * LEAST(p_max_ms::float8, p_base_ms * pg_catalog.power(2::float8, o.attempts)) / 1000.0),
               lease_until = NULL,
               last_error = x.e
          FROM ROWS FROM (pg_catalog.unnest(p_tenants), pg_catalog.unnest(p_ids), pg_catalog.unnest(p_errors)) AS x(t, i, e)
         WHERE o.tenant_id = x.t AND o.id = x.i AND o.state::text = 'pending'
        RETURNING 1)
    SELECT pg_catalog.count(*)::integer FROM u
$$;

-- No confirm (the broker went away): not the row's fault, so no attempt is
-- counted; the lease is dropped so the row goes out as soon as the broker is back.
CREATE FUNCTION eventsvc.relay_release(p_tenants uuid[], p_ids bigint[]) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
    WITH u AS (
        UPDATE eventsvc.outbox o SET lease_until = NULL
          FROM ROWS FROM (pg_catalog.unnest(p_tenants), pg_catalog.unnest(p_ids)) AS x(t, i)
         WHERE o.tenant_id = x.t AND o.id = x.i AND o.state::text = 'pending'
        RETURNING 1)
    SELECT pg_catalog.count(*)::integer FROM u
$$;

-- At worker start: there is one worker per cluster, so leases and running saga
-- steps left by an earlier incarnation (crash, kill -9) are void.
CREATE FUNCTION eventsvc.worker_recover() RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    UPDATE eventsvc.outbox SET lease_until = NULL WHERE state = 'pending' AND lease_until IS NOT NULL;
    UPDATE eventsvc.cancellation_steps SET state = 'pending' WHERE state = 'running';
$$;

-- Sets the worker's latch when the calling transaction commits (no-op when
-- the worker is not configured).
CREATE FUNCTION eventsvc.wake_worker() RETURNS void
    AS 'MODULE_PATHNAME', 'evs_sql_worker_wake' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Dead rows back to pending with a fresh attempt count, in one call:
--   SELECT eventsvc.requeue_dead();                       -- all of them
--   SELECT eventsvc.requeue_dead(p_ids => ARRAY[42, 43]);  -- some rows
--   SELECT eventsvc.requeue_dead(p_routing_key => 'event.reminder', p_tenant_id => '...');
-- For operators only: granted to no role (a superuser may GRANT it to an ops role).
CREATE FUNCTION eventsvc.requeue_dead(p_ids bigint[] DEFAULT NULL, p_routing_key text DEFAULT NULL,
                                      p_tenant_id uuid DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    UPDATE eventsvc.outbox o
       SET state = 'pending', attempts = 0, next_attempt_at = pg_catalog.now(), lease_until = NULL,
           last_error = 'requeued after: ' || coalesce(o.last_error, '?')
     WHERE o.state = 'dead'
       AND (p_ids IS NULL OR o.id = ANY (p_ids))
       AND (p_routing_key IS NULL OR o.routing_key = p_routing_key)
       AND (p_tenant_id IS NULL OR o.tenant_id = p_tenant_id);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM eventsvc.wake_worker();
    END IF;
    RETURN n;
END
$$;

-- The worker's shared-memory status (zeros when the worker is not configured).
CREATE FUNCTION eventsvc.worker_shmem_status(
    OUT running boolean, OUT pid integer, OUT state text, OUT database text,
    OUT started_at timestamptz, OUT broker_connected boolean, OUT broker_since timestamptz,
    OUT broker_error text, OUT last_publish_at timestamptz, OUT published_total bigint,
    OUT failed_total bigint, OUT last_sweep_at timestamptz, OUT last_sweep_released bigint,
    OUT last_sweep_ms bigint, OUT swept_total bigint, OUT saga_steps_done bigint,
    OUT last_error text)
    AS 'MODULE_PATHNAME', 'evs_sql_worker_shmem_status' LANGUAGE C VOLATILE PARALLEL RESTRICTED;

-- What to monitor (docs/operations.md "Monitoring"): one row.
CREATE VIEW api.worker_status AS
SELECT s.running, s.pid, s.state, s.database, s.started_at,
       s.broker_connected, s.broker_since, s.broker_error,
       (SELECT pg_catalog.count(*) FROM eventsvc.outbox o WHERE o.state = 'pending') AS outbox_pending,
       pg_catalog.now() - (SELECT o.created_at FROM eventsvc.outbox o WHERE o.state = 'pending'
                            ORDER BY o.id LIMIT 1) AS outbox_oldest_pending_age,
       (SELECT pg_catalog.count(*) FROM eventsvc.outbox o WHERE o.state = 'dead') AS outbox_dead,
       s.last_publish_at, s.published_total, s.failed_total,
       s.last_sweep_at, s.last_sweep_released, s.last_sweep_ms, s.swept_total,
       (SELECT pg_catalog.count(*) FROM eventsvc.event_cancellation_reports r
         WHERE r.status IN ('pending', 'in_progress')) AS sagas_in_flight,
       s.saga_steps_done, s.last_error
  FROM eventsvc.worker_shmem_status() s;
COMMENT ON VIEW api.worker_status IS
    'The eventsvc worker: state, broker connection, outbox backlog and dead rows, last sweep, sagas in flight.';

REVOKE ALL ON FUNCTION eventsvc.relay_claim(integer, integer, integer), eventsvc.relay_published(uuid[], bigint[]),
    eventsvc.relay_failed(uuid[], bigint[], text[], integer, integer, integer),
    eventsvc.relay_release(uuid[], bigint[]), eventsvc.worker_recover(), eventsvc.wake_worker(),
    eventsvc.requeue_dead(bigint[], text, uuid), eventsvc.worker_shmem_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.relay_claim(integer, integer, integer), eventsvc.relay_published(uuid[], bigint[]),
    eventsvc.relay_failed(uuid[], bigint[], text[], integer, integer, integer),
    eventsvc.relay_release(uuid[], bigint[]), eventsvc.worker_recover()
    TO eventsvc_worker;
GRANT EXECUTE ON FUNCTION eventsvc.worker_shmem_status() TO eventsvc_service, eventsvc_worker;
GRANT SELECT ON api.worker_status TO eventsvc_service, eventsvc_worker;
-- Part 52: the cancellation saga's SQL surface, driven by the worker (saga.c).
-- api.cancel_event writes a pending report and five pending steps:
--   1 fetch_tickets    GET  ticket-service        /internal/events/{id}/tickets?tenantId=
--   2 cancel_tickets   POST ticket-service        /internal/tickets/cancel-batch (one call per batch)
--   3 refund_payments  POST payment-service       /internal/refunds/bulk
--   4 cancel_listings  POST marketplace-service   /internal/events/{id}/cancel-listings
--   5 notify_holders   POST notification-service  /internal/notifications/batch
-- Steps run in order, one HTTP call at a time, outside any transaction; each
-- finished call is recorded (result.calls_done) before the next, so a restart
-- resumes at the first call not yet done and repeats nothing that completed.
-- The report ends completed, partial (failed_steps says which and why) or
-- failed, and a second event.cancelled message (data.phase = 'settled') goes out.

-- The next due step of the oldest unfinished saga, marked running.
CREATE FUNCTION eventsvc.saga_claim_step(
    OUT tenant_id uuid, OUT report_id uuid, OUT event_id uuid, OUT step_no smallint, OUT step text,
    OUT idempotency_key uuid, OUT attempts integer, OUT skip_reason text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    first_state text;
BEGIN
    SELECT c.tenant_id, c.report_id, c.step_no, c.step, c.idempotency_key, c.attempts, r.event_id
      INTO s
      FROM eventsvc.cancellation_steps c
      JOIN eventsvc.event_cancellation_reports r ON r.tenant_id = c.tenant_id AND r.id = c.report_id
     WHERE r.status IN ('pending', 'in_progress')
       AND c.state = 'pending'
       -- first attempts are due at once (whatever clock wrote next_attempt_at); retries wait
       AND (c.attempts = 0 OR c.next_attempt_at <= pg_catalog.now())
       AND NOT EXISTS (SELECT 1 FROM eventsvc.cancellation_steps p
                        WHERE p.tenant_id = c.tenant_id AND p.report_id = c.report_id
                          AND p.step_no < c.step_no AND p.state NOT IN ('done', 'failed'))
     ORDER BY r.created_at, c.report_id, c.step_no
     LIMIT 1
       FOR UPDATE OF c SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE eventsvc.cancellation_steps c SET state = 'running', updated_at = pg_catalog.now()
     WHERE c.tenant_id = s.tenant_id AND c.report_id = s.report_id AND c.step_no = s.step_no;
    UPDATE eventsvc.event_cancellation_reports r SET status = 'in_progress', updated_at = pg_catalog.now()
     WHERE r.tenant_id = s.tenant_id AND r.id = s.report_id AND r.status = 'pending';

    tenant_id := s.tenant_id; report_id := s.report_id; event_id := s.event_id;
    step_no := s.step_no; step := s.step; idempotency_key := s.idempotency_key; attempts := s.attempts;
    -- cancel_tickets and notify_holders need the ticket list of step 1
    IF s.step IN ('cancel_tickets', 'notify_holders') THEN
        SELECT c.state INTO first_state FROM eventsvc.cancellation_steps c
         WHERE c.tenant_id = s.tenant_id AND c.report_id = s.report_id AND c.step = 'fetch_tickets';
        IF first_state IS DISTINCT FROM 'done' THEN
            skip_reason := 'skipped: the ticket list is unknown because fetch_tickets failed';
        END IF;
    END IF;
    RETURN NEXT;
END
$$;

-- The HTTP calls of a step not yet done: (call_no, service, method, path, body).
CREATE FUNCTION eventsvc.saga_step_calls(p_tenant_id uuid, p_report_id uuid, p_step_no smallint,
                                         p_batch integer)
RETURNS TABLE (call_no integer, service text, method text, path text, body text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st record;
    rep record;
    tickets jsonb;
    done integer;
BEGIN
    SELECT c.* INTO st FROM eventsvc.cancellation_steps c
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no;
    SELECT r.* INTO rep FROM eventsvc.event_cancellation_reports r
     WHERE r.tenant_id = p_tenant_id AND r.id = p_report_id;
    done := coalesce((st.result ->> 'calls_done')::integer, 0);
    SELECT c.result -> 'tickets' INTO tickets FROM eventsvc.cancellation_steps c
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step = 'fetch_tickets'
       AND c.state = 'done';
    tickets := coalesce(tickets, '[]');

    IF st.step = 'fetch_tickets' THEN
        RETURN QUERY SELECT 1, 'ticket', 'GET',
            format('/internal/events/%s/tickets?tenantId=%s', rep.event_id, rep.tenant_id), NULL::text
         WHERE done < 1;
    ELSIF st.step = 'cancel_tickets' THEN
        RETURN QUERY
        SELECT b.n::integer, 'ticket', 'POST', '/internal/tickets/cancel-batch',
               pg_catalog.jsonb_build_object('eventId', rep.event_id, 'tenantId', rep.tenant_id,
                   'reason', rep.reason, 'ticketIds', b.ids)::text
          FROM (SELECT ((t.ord - 1) / p_batch) + 1 AS n, pg_catalog.jsonb_agg(t.v -> 'id' ORDER BY t.ord) AS ids
                  FROM pg_catalog.jsonb_array_elements(tickets) WITH ORDINALITY AS t(v, ord)
                 GROUP BY 1) b
         WHERE b.n > done
         ORDER BY b.n;
    ELSIF st.step = 'refund_payments' THEN
        RETURN QUERY SELECT 1, 'payment', 'POST', '/internal/refunds/bulk',
            pg_catalog.jsonb_build_object('eventId', rep.event_id, 'tenantId', rep.tenant_id,
                'reason', rep.reason,
                'ticketIds', (SELECT coalesce(pg_catalog.jsonb_agg(t.v -> 'id'), '[]') FROM pg_catalog.jsonb_array_elements(tickets) t(v)))::text
         WHERE done < 1;
    ELSIF st.step = 'cancel_listings' THEN
        RETURN QUERY SELECT 1, 'marketplace', 'POST',
            format('/internal/events/%s/cancel-listings', rep.event_id),
            pg_catalog.jsonb_build_object('tenantId', rep.tenant_id, 'reason', rep.reason,
                'notifySellers', true)::text
         WHERE done < 1;
    ELSIF st.step = 'notify_holders' THEN
        RETURN QUERY SELECT 1, 'notification', 'POST', '/internal/notifications/batch',
            pg_catalog.jsonb_build_object('type', 'event.cancelled', 'eventId', rep.event_id,
                'tenantId', rep.tenant_id,
                'recipients', (SELECT coalesce(pg_catalog.jsonb_agg(DISTINCT t.v -> 'userId'), '[]')
                                 FROM pg_catalog.jsonb_array_elements(tickets) t(v) WHERE t.v ? 'userId'),
                'data', pg_catalog.jsonb_build_object('reason', rep.reason))::text
         WHERE done < 1 AND pg_catalog.jsonb_array_length(tickets) > 0;
    END IF;
END
$$;

-- One call answered 2xx: record it before the next call. Raises (22023) when the
-- answer is not what the service promises, and the worker retries the step.
CREATE FUNCTION eventsvc.saga_call_done(p_tenant_id uuid, p_report_id uuid, p_step_no smallint,
                                        p_call_no integer, p_response text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st record;
    resp jsonb;
    key text;
    n bigint;
BEGIN
    SELECT c.* INTO st FROM eventsvc.cancellation_steps c
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no
       FOR UPDATE;
    BEGIN
        resp := coalesce(nullif(p_response, ''), '{}')::jsonb;
    EXCEPTION WHEN others THEN
        RAISE EXCEPTION 'invalid response from the % step: not JSON', st.step USING ERRCODE = '22023';
    END;
    IF st.step = 'fetch_tickets' THEN
        IF pg_catalog.jsonb_typeof(resp -> 'tickets') IS DISTINCT FROM 'array' THEN
            RAISE EXCEPTION 'invalid response from ticket-service: no "tickets" array' USING ERRCODE = '22023';
        END IF;
        UPDATE eventsvc.cancellation_steps c
           SET result = pg_catalog.jsonb_build_object('calls_done', p_call_no,
                   'count', pg_catalog.jsonb_array_length(resp -> 'tickets'), 'tickets', resp -> 'tickets'),
               updated_at = pg_catalog.now()
         WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no;
        RETURN;
    END IF;
    key := CASE st.step WHEN 'cancel_tickets' THEN 'cancelled' WHEN 'refund_payments' THEN 'refundsRequested'
                        WHEN 'cancel_listings' THEN 'cancelled' ELSE 'sent' END;
    n := CASE WHEN pg_catalog.jsonb_typeof(resp -> key) = 'number' THEN (resp ->> key)::bigint ELSE 0 END;
    UPDATE eventsvc.cancellation_steps c
       SET result = coalesce(c.result, '{}') || pg_catalog.jsonb_build_object('calls_done', p_call_no,
               'count', coalesce((c.result ->> 'count')::bigint, 0) + n),
           updated_at = pg_catalog.now()
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no;
END
$$;

-- Close the report once every step is done or failed, and announce it.
CREATE FUNCTION eventsvc.saga_finish_if_complete(p_tenant_id uuid, p_report_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rep record;
    n_open integer;
    n_failed integer;
    n_all integer;
    failed jsonb;
    steps jsonb;
    final eventsvc.report_status;
    cnt jsonb;
BEGIN
    SELECT r.* INTO rep FROM eventsvc.event_cancellation_reports r
     WHERE r.tenant_id = p_tenant_id AND r.id = p_report_id FOR UPDATE;
    IF rep.status NOT IN ('pending', 'in_progress') THEN
        RETURN;
    END IF;
    SELECT count(*) FILTER (WHERE c.state NOT IN ('done', 'failed')), count(*) FILTER (WHERE c.state = 'failed'),
           count(*),
           coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('step_no', c.step_no, 'step', c.step,
               'attempts', c.attempts, 'reason', c.last_error) ORDER BY c.step_no)
               FILTER (WHERE c.state = 'failed'), '[]'),
           pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('step_no', c.step_no, 'step', c.step,
               'state', c.state, 'attempts', c.attempts, 'count', c.result -> 'count',
               'error', c.last_error) ORDER BY c.step_no),
           pg_catalog.jsonb_object_agg(c.step, c.result -> 'count') FILTER (WHERE c.state = 'done')
      INTO n_open, n_failed, n_all, failed, steps, cnt
      FROM eventsvc.cancellation_steps c
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id;
    IF n_open > 0 THEN
        RETURN;
    END IF;
    cnt := coalesce(cnt, '{}');
    final := CASE WHEN n_failed = 0 THEN 'completed' WHEN n_failed = n_all THEN 'failed' ELSE 'partial' END;
    UPDATE eventsvc.event_cancellation_reports r
       SET status = final,
           tickets_found = (cnt ->> 'fetch_tickets')::integer,
           tickets_cancelled = (cnt ->> 'cancel_tickets')::integer,
           refunds_requested = (cnt ->> 'refund_payments')::integer,
           listings_cancelled = (cnt ->> 'cancel_listings')::integer,
           notifications_sent = (cnt ->> 'notify_holders')::integer,
           failed_steps = failed,
           report = r.report || pg_catalog.jsonb_build_object('steps', steps),
           completed_at = pg_catalog.now(), updated_at = pg_catalog.now()
     WHERE r.tenant_id = p_tenant_id AND r.id = p_report_id;
    PERFORM eventsvc.outbox_emit(p_tenant_id, rep.event_id, 'tickettoken_events', 'event.cancelled',
        pg_catalog.jsonb_build_object('phase', 'settled', 'report_id', p_report_id, 'status', final,
            'reason', rep.reason, 'holds_released', rep.holds_released,
            'tickets_found', (cnt ->> 'fetch_tickets')::integer,
            'tickets_cancelled', (cnt ->> 'cancel_tickets')::integer,
            'refunds_requested', (cnt ->> 'refund_payments')::integer,
            'listings_cancelled', (cnt ->> 'cancel_listings')::integer,
            'notifications_sent', (cnt ->> 'notify_holders')::integer,
            'failed_steps', failed));
END
$$;

CREATE FUNCTION eventsvc.saga_step_done(p_tenant_id uuid, p_report_id uuid, p_step_no smallint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE eventsvc.cancellation_steps c
       SET state = 'done', attempts = c.attempts + 1, last_error = NULL,
           result = coalesce(c.result, '{}') || pg_catalog.jsonb_build_object('count', coalesce((c.result ->> 'count')::bigint, 0)),
           updated_at = pg_catalog.now()
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no;
    PERFORM eventsvc.saga_finish_if_complete(p_tenant_id, p_report_id);
END
$$;

-- A failed attempt: retry after a full-jitter exponential delay, or record the
-- step as failed (permanent error, or attempts exhausted) and go on.
CREATE FUNCTION eventsvc.saga_step_failed(p_tenant_id uuid, p_report_id uuid, p_step_no smallint,
                                          p_error text, p_permanent boolean, p_max_attempts integer,
                                          p_base_ms integer, p_max_ms integer)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_state text;
BEGIN
    UPDATE eventsvc.cancellation_steps c
       SET attempts = c.attempts + 1,
           state = CASE WHEN p_permanent OR c.attempts + 1 >= p_max_attempts THEN 'failed' ELSE 'pending' END,
           next_attempt_at = pg_catalog.now() + pg_catalog.make_interval(secs =>
               pg_catalog.random() * LEAST(p_max_ms::float8, p_base_ms * pg_catalog.power(2::float8, c.attempts)) / 1000.0),
           last_error = pg_catalog.left(p_error, 1000),
           updated_at = pg_catalog.now()
     WHERE c.tenant_id = p_tenant_id AND c.report_id = p_report_id AND c.step_no = p_step_no
    RETURNING c.state INTO new_state;
    IF new_state = 'failed' THEN
        PERFORM eventsvc.saga_finish_if_complete(p_tenant_id, p_report_id);
    END IF;
    RETURN new_state;
END
$$;

REVOKE ALL ON FUNCTION eventsvc.saga_claim_step(), eventsvc.saga_step_calls(uuid, uuid, smallint, integer),
    eventsvc.saga_call_done(uuid, uuid, smallint, integer, text), eventsvc.saga_finish_if_complete(uuid, uuid),
    eventsvc.saga_step_done(uuid, uuid, smallint),
    eventsvc.saga_step_failed(uuid, uuid, smallint, text, boolean, integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.saga_claim_step(), eventsvc.saga_step_calls(uuid, uuid, smallint, integer),
    eventsvc.saga_call_done(uuid, uuid, smallint, integer, text),
    eventsvc.saga_step_done(uuid, uuid, smallint),
    eventsvc.saga_step_failed(uuid, uuid, smallint, text, boolean, integer, integer, integer)
    TO eventsvc_worker;
-- Part 53: the venues read model, refreshed by the worker from venue-service so
-- that event validation reads a local row and never calls HTTP inside a
-- transaction. Only venues that a live event references are refreshed.

-- Venues due for a refresh: referenced by an event that is not deleted,
-- completed or cancelled, and older than p_max_age_seconds. Oldest first.
CREATE FUNCTION eventsvc.venue_refresh_due(p_max_age_seconds integer, p_limit integer)
RETURNS TABLE (tenant_id uuid, venue_id uuid)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_max_age_seconds IS NULL OR p_max_age_seconds < 0 OR p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'venue_refresh_due needs a max age of at least 0 s and a limit of at least 1'
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    SELECT v.tenant_id, v.id
      FROM eventsvc.venues v
     WHERE v.refreshed_at < pg_catalog.now() - pg_catalog.make_interval(secs => p_max_age_seconds)
       AND EXISTS (SELECT 1 FROM eventsvc.events e
                    WHERE e.tenant_id = v.tenant_id AND e.venue_id = v.id AND e.deleted_at IS NULL
                      AND e.status NOT IN ('COMPLETED', 'CANCELLED'))
     ORDER BY v.refreshed_at
     LIMIT p_limit;
END
$$;

-- Apply venue-service's answer. 200: {"name", "capacity", "timezone", "isActive"}
-- (missing fields keep their value); 404: the venue is gone, so it is marked
-- inactive. Raises 22023 on an answer that does not fit, leaving the row as it was.
CREATE FUNCTION eventsvc.venue_refresh_apply(p_tenant_id uuid, p_venue_id uuid, p_status integer,
                                             p_response text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v jsonb;
BEGIN
    IF p_status = 404 THEN
        UPDATE eventsvc.venues SET is_active = false, refreshed_at = pg_catalog.now()
         WHERE tenant_id = p_tenant_id AND id = p_venue_id;
        RETURN;
    END IF;
    BEGIN
        v := p_response::jsonb;
    EXCEPTION WHEN others THEN
        RAISE EXCEPTION 'venue-service answered with something that is not JSON' USING ERRCODE = '22023';
    END;
    IF pg_catalog.jsonb_typeof(v) IS DISTINCT FROM 'object'
       OR (v ? 'capacity' AND pg_catalog.jsonb_typeof(v -> 'capacity') <> 'number')
       OR (v ? 'name' AND pg_catalog.jsonb_typeof(v -> 'name') <> 'string') THEN
        RAISE EXCEPTION 'venue-service answered with an unexpected venue document' USING ERRCODE = '22023';
    END IF;
    UPDATE eventsvc.venues
       SET name = coalesce(v ->> 'name', name),
           capacity = coalesce((v ->> 'capacity')::integer, capacity),
           timezone = coalesce(v ->> 'timezone', timezone),
           is_active = coalesce((v ->> 'isActive')::boolean, is_active),
           refreshed_at = pg_catalog.now()
     WHERE tenant_id = p_tenant_id AND id = p_venue_id;
END
$$;

REVOKE ALL ON FUNCTION eventsvc.venue_refresh_due(integer, integer),
    eventsvc.venue_refresh_apply(uuid, uuid, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.venue_refresh_due(integer, integer),
    eventsvc.venue_refresh_apply(uuid, uuid, integer, text) TO eventsvc_worker;
-- Part 55: periodic jobs for pg_cron (docs/operations.md "Without the worker").
-- The job bodies are plain functions, usable from any scheduler; the jobs run
-- as the DBA who scheduled them. eventsvc.schedule_cron_jobs() installs them.

-- One reminder per event and start time: a rescheduled event gets a new one.
CREATE TABLE eventsvc.event_reminders_sent (
    tenant_id  uuid NOT NULL,
    event_id   uuid NOT NULL,
    starts_at  timestamptz NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id, starts_at),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);
-- Tenant data like every other table: RLS forced; no API role has a policy or a
-- grant, only the jobs below (run by the DBA) touch it.
ALTER TABLE eventsvc.event_reminders_sent ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_reminders_sent FORCE ROW LEVEL SECURITY;

-- Expired holds, in bounded batches with a commit after each (a procedure, so
-- no batch waits for the others and a long backlog never holds locks for long).
-- (No SET search_path here: a procedure with a SET clause cannot COMMIT; every
-- name inside is schema-qualified instead.)
CREATE PROCEDURE eventsvc.cron_expire_holds(p_batch integer DEFAULT 5000)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    LOOP
        n := api.expire_holds(p_batch);
        COMMIT;
        EXIT WHEN n < p_batch;
    END LOOP;
END
$$;

-- event.reminder for every live event starting within p_window from now,
-- once per event and start time. Returns the reminders written to the outbox.
CREATE FUNCTION eventsvc.cron_send_reminders(p_window interval DEFAULT '24 hours')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    WITH due AS (
        SELECT e.tenant_id, e.id, e.name, e.starts_at, e.ends_at, e.venue_id, e.timezone, e.status
          FROM eventsvc.events e
         WHERE e.deleted_at IS NULL
           AND e.status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT')
           AND e.starts_at > eventsvc.now() AND e.starts_at <= eventsvc.now() + p_window),
    ins AS (
        INSERT INTO eventsvc.event_reminders_sent (tenant_id, event_id, starts_at, sent_at)
        SELECT due.tenant_id, due.id, due.starts_at, eventsvc.now() FROM due
        ON CONFLICT DO NOTHING
        RETURNING tenant_id, event_id)
    SELECT pg_catalog.count(eventsvc.outbox_emit(due.tenant_id, due.id, 'tickettoken_events', 'event.reminder',
               pg_catalog.jsonb_build_object('event_id', due.id, 'name', due.name, 'starts_at', due.starts_at,
                   'ends_at', due.ends_at, 'venue_id', due.venue_id, 'timezone', due.timezone,
                   'status', due.status, 'window', p_window::text)))
      INTO n
      FROM due JOIN ins ON ins.tenant_id = due.tenant_id AND ins.event_id = due.id;
    RETURN n;
END
$$;

-- Expired idempotency keys and confirmation tokens, and published outbox rows
-- older than p_outbox_retention (dead rows stay until requeued or deleted by hand).
CREATE FUNCTION eventsvc.cron_purge(p_outbox_retention interval DEFAULT '7 days')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k bigint;
    t bigint;
    o bigint;
BEGIN
    DELETE FROM eventsvc.idempotency_keys WHERE expires_at <= eventsvc.now();
    GET DIAGNOSTICS k = ROW_COUNT;
    DELETE FROM eventsvc.confirmation_tokens WHERE expires_at <= eventsvc.now();
    GET DIAGNOSTICS t = ROW_COUNT;
    DELETE FROM eventsvc.outbox
     WHERE state = 'published' AND published_at < pg_catalog.now() - p_outbox_retention;
    GET DIAGNOSTICS o = ROW_COUNT;
    RETURN pg_catalog.jsonb_build_object('idempotency_keys', k, 'confirmation_tokens', t, 'outbox_published', o);
END
$$;

-- Events whose start has passed go IN_PROGRESS (from ON_SALE, SALES_PAUSED or
-- SOLD_OUT: the state machine's edges), and those whose end has passed go
-- COMPLETED. Each change goes through the state-machine and audit triggers and
-- announces itself with event.updated.
CREATE FUNCTION eventsvc.cron_advance_events()
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    res jsonb;
BEGIN
    WITH c AS (
        SELECT e.tenant_id, e.id, e.status AS prev,
               CASE WHEN e.status = 'IN_PROGRESS' THEN 'COMPLETED' ELSE 'IN_PROGRESS' END::eventsvc.event_status AS target
          FROM eventsvc.events e
         WHERE e.deleted_at IS NULL
           AND ((e.status IN ('ON_SALE', 'SALES_PAUSED', 'SOLD_OUT') AND e.starts_at <= eventsvc.now())
             OR (e.status = 'IN_PROGRESS' AND e.ends_at <= eventsvc.now()))
           FOR UPDATE SKIP LOCKED),
    u AS (
        UPDATE eventsvc.events e
           SET status = c.target, updated_at = eventsvc.now(), updated_by = 'scheduler'
          FROM c
         WHERE e.tenant_id = c.tenant_id AND e.id = c.id
        RETURNING e.tenant_id, e.id, c.prev, c.target)
    SELECT pg_catalog.jsonb_build_object(
               'in_progress', pg_catalog.count(*) FILTER (WHERE u.target = 'IN_PROGRESS'),
               'completed', pg_catalog.count(*) FILTER (WHERE u.target = 'COMPLETED'),
               'messages', pg_catalog.count(eventsvc.outbox_emit(u.tenant_id, u.id, 'tickettoken_events', 'event.updated',
                   pg_catalog.jsonb_build_object('event_id', u.id, 'status', u.target, 'previous_status', u.prev,
                       'changed_by', 'scheduler'))))
      INTO res
      FROM u;
    RETURN res;
END
$$;

-- Install (or replace) the jobs. Call it as a superuser in the database where
-- pg_cron is installed (cron.database_name); p_database is where eventsvc
-- lives (the same database by default). Returns the job names and ids.
CREATE FUNCTION eventsvc.schedule_cron_jobs(
    p_database text DEFAULT pg_catalog.current_database(),
    p_expire_holds text DEFAULT '* * * * *',
    p_reminders text DEFAULT '* * * * *',
    p_reminder_window interval DEFAULT '24 hours',
    p_purge text DEFAULT '17 * * * *',
    p_advance text DEFAULT '* * * * *',
    p_with_expire_holds boolean DEFAULT true)
RETURNS TABLE (job_name text, jobid bigint)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    spec record;
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NULL THEN
        -- PT409 (EVS_ERR_CONFLICT): the database is not in a state that allows the action
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', pg_catalog.current_database()
            USING ERRCODE = 'PT409',
                  HINT = 'Run CREATE EXTENSION pg_cron in the database named by cron.database_name and call this function there.';
    END IF;
    FOR spec IN
        SELECT * FROM (VALUES
            ('eventsvc-expire-holds', p_expire_holds, 'CALL eventsvc.cron_expire_holds()', p_with_expire_holds),
            ('eventsvc-reminders', p_reminders,
             pg_catalog.format('SELECT eventsvc.cron_send_reminders(%L)', p_reminder_window), true),
            ('eventsvc-purge', p_purge, 'SELECT eventsvc.cron_purge()', true),
            ('eventsvc-advance-events', p_advance, 'SELECT eventsvc.cron_advance_events()', true)
        ) AS t(name, schedule, command, wanted)
    LOOP
        EXECUTE 'SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = $1' USING spec.name;
        CONTINUE WHEN NOT spec.wanted;
        job_name := spec.name;
        EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)'
            INTO jobid USING spec.name, spec.schedule, spec.command, p_database;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Remove the jobs again.
CREATE FUNCTION eventsvc.unschedule_cron_jobs() RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    IF pg_catalog.to_regnamespace('cron') IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE 'SELECT count(cron.unschedule(jobid)) FROM cron.job WHERE jobname LIKE ''eventsvc-%''' INTO n;
    RETURN n;
END
$$;

-- The jobs run as the superuser who scheduled them; nothing is granted.
REVOKE ALL ON TABLE eventsvc.event_reminders_sent FROM PUBLIC;
REVOKE ALL ON FUNCTION eventsvc.cron_send_reminders(interval), eventsvc.cron_purge(interval),
    eventsvc.cron_advance_events(), eventsvc.schedule_cron_jobs(text, text, text, interval, text, text, boolean),
    eventsvc.unschedule_cron_jobs() FROM PUBLIC;
REVOKE ALL ON PROCEDURE eventsvc.cron_expire_holds(integer) FROM PUBLIC;
-- Part 60: schedules and recurrence. An event has one or more schedules; a
-- recurring one carries an RFC 5545 RRULE expanded in its own time zone by
-- src/rrule.c, so 20:00 local stays 20:00 local across daylight-saving changes.
-- See docs/discovery.md "Schedules".

CREATE FUNCTION eventsvc.expand_rrule(rule text, dtstart timestamp, tz text, duration interval,
                                      max_count integer DEFAULT 500,
                                      window_end timestamptz DEFAULT NULL)
RETURNS TABLE (starts_at timestamptz, ends_at timestamptz)
    AS 'MODULE_PATHNAME', 'evs_expand_rrule' LANGUAGE C STABLE PARALLEL SAFE ROWS 100;
COMMENT ON FUNCTION eventsvc.expand_rrule(text, timestamp, text, interval, integer, timestamptz) IS
    'Occurrences of an RRULE from dtstart (local wall time in tz), each lasting duration; at most max_count (hard cap 10000), starting before window_end.';

CREATE FUNCTION eventsvc.validate_rrule(rule text) RETURNS void
    AS 'MODULE_PATHNAME', 'evs_validate_rrule' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION eventsvc.check_timezone(tz text) RETURNS text
    AS 'MODULE_PATHNAME', 'evs_sql_check_timezone' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION eventsvc.schedule_recurrence_end(recurrence_rule text, starts_at timestamptz,
                                                 ends_at timestamptz, timezone text)
RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'evs_schedule_recurrence_end' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventsvc.schedule_recurrence_end(text, timestamptz, timestamptz, text) IS
    'Checks a recurring schedule; the end of its last occurrence (NULL when open-ended).';

-- The schedule's own checks, whoever writes the row (API or a DBA's UPDATE):
-- a valid zone and rule, and recurrence_end derived from the rule, never typed in.
CREATE FUNCTION eventsvc.schedule_check_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.recurrence_rule = '' THEN
        NEW.recurrence_rule := NULL;
    END IF;
    NEW.is_recurring := NEW.recurrence_rule IS NOT NULL;
    IF NEW.is_recurring THEN
        NEW.recurrence_end := eventsvc.schedule_recurrence_end(NEW.recurrence_rule, NEW.starts_at,
                                                               NEW.ends_at, NEW.timezone);
    ELSE
        PERFORM eventsvc.check_timezone(NEW.timezone);
        NEW.recurrence_end := NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER event_schedules_check BEFORE INSERT OR UPDATE ON eventsvc.event_schedules
    FOR EACH ROW EXECUTE FUNCTION eventsvc.schedule_check_trigger();

-- What a rule would produce, before a schedule is saved (for editors' previews).
CREATE TYPE eventsvc.occurrence AS (starts_at timestamptz, ends_at timestamptz);
CREATE FUNCTION eventsvc.require_finite(t timestamptz, name text) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'evs_sql_require_finite' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventsvc.require_finite(timestamptz, text) IS
    'Returns t, or fails with 22023 naming the argument when t is +-infinity.';

CREATE FUNCTION api.preview_occurrences(recurrence_rule text, starts_at timestamptz, ends_at timestamptz,
                                        timezone text, max_count integer DEFAULT 20)
RETURNS SETOF eventsvc.occurrence
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT x.starts_at, x.ends_at
      FROM eventsvc.expand_rrule(recurrence_rule,
                                 eventsvc.require_finite(starts_at, 'starts_at') AT TIME ZONE eventsvc.check_timezone(timezone),
                                 timezone,
                                 (eventsvc.require_finite(ends_at, 'ends_at') AT TIME ZONE timezone)
                                   - (starts_at AT TIME ZONE timezone),
                                 max_count) x
$$;
COMMENT ON FUNCTION api.preview_occurrences(text, timestamptz, timestamptz, text, integer) IS
    'The first max_count occurrences a recurrence rule would give a schedule (GET /rpc/preview_occurrences); nothing is stored.';

-- The one place that says which events the caller may see in discovery reads:
-- the caller's tenant in full, or else the public catalogue of active tenants.
CREATE FUNCTION eventsvc.caller_scope() RETURNS uuid
    AS 'MODULE_PATHNAME', 'evs_sql_caller_scope' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION eventsvc.caller_scope() IS
    'Tenant whose rows the caller sees in full (tenant users; service/superuser naming a tenant), NULL for the public catalogue only.';

-- A plain expression (no SET clause, no sub-select) so the planner inlines it
-- into the callers' queries and can use their indexes. The caller joins the
-- event's tenant and passes its is_active.
CREATE FUNCTION eventsvc.event_is_visible(scope uuid, e eventsvc.events, tenant_active boolean) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN scope IS NOT NULL THEN e.tenant_id = scope AND e.deleted_at IS NULL
        ELSE e.visibility = 'PUBLIC'
             AND e.deleted_at IS NULL
             AND e.status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT',
                              'IN_PROGRESS', 'POSTPONED', 'RESCHEDULED')
             AND tenant_active
    END
$$;

-- Raises PT404 unless the event exists and the caller may see it; returns its tenant.
CREATE FUNCTION eventsvc.visible_event_tenant(p_event_id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    scope  uuid := eventsvc.caller_scope();
    tenant uuid;
BEGIN
    SELECT e.tenant_id INTO tenant
      FROM eventsvc.events e JOIN eventsvc.tenants t ON t.id = e.tenant_id
     WHERE e.id = p_event_id AND eventsvc.event_is_visible(scope, e, t.is_active);
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'event % not found', p_event_id
            USING ERRCODE = 'PT404',
                  HINT = 'Check the event id; events of other tenants and unpublished events are not visible.';
    END IF;
    RETURN tenant;
END
$$;

-- Downstream services (search, notification, ticket) learn of schedule changes
-- through the outbox, in the caller's transaction: event.updated with the schedule.
-- By id, re-read under the caller's tenant, so a caller cannot describe a row it
-- does not own.
CREATE FUNCTION eventsvc.emit_schedule_change(p_schedule_id uuid, p_action text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s eventsvc.event_schedules;
BEGIN
    SELECT * INTO s FROM eventsvc.event_schedules x
     WHERE x.tenant_id = eventsvc.current_tenant_id() AND x.id = p_schedule_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schedule % not found', p_schedule_id USING ERRCODE = 'PT404';
    END IF;
    PERFORM eventsvc.outbox_emit(s.tenant_id, s.event_id, 'tickettoken_events', 'event.updated',
        jsonb_build_object('event_id', s.event_id, 'changed', jsonb_build_array('schedules'),
                           'schedule_action', p_action, 'schedule', to_jsonb(s) - 'tenant_id',
                           'actor', eventsvc.current_actor()));
END
$$;

-- Create a schedule for an event of the caller's tenant. starts_at/ends_at are
-- the first occurrence; with a recurrence_rule, later occurrences repeat its
-- local wall time in the schedule's time zone (default: the event's).
CREATE FUNCTION api.create_schedule(event_id uuid, starts_at timestamptz, ends_at timestamptz,
                                    timezone text DEFAULT NULL, recurrence_rule text DEFAULT NULL,
                                    doors_open_at timestamptz DEFAULT NULL, notes text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ev  eventsvc.events;
    rec eventsvc.event_schedules;
BEGIN
    SELECT * INTO ev FROM eventsvc.events e
     WHERE e.id = create_schedule.event_id AND e.deleted_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'event % not found', create_schedule.event_id USING ERRCODE = 'PT404';
    END IF;
    IF ev.status IN ('CANCELLED', 'COMPLETED') THEN
        RAISE EXCEPTION 'event % is %: it cannot get new schedules', ev.id, ev.status
            USING ERRCODE = 'PT409';
    END IF;
    IF create_schedule.starts_at IS NULL OR create_schedule.ends_at IS NULL THEN
        RAISE EXCEPTION 'starts_at and ends_at are required' USING ERRCODE = '22023';
    END IF;
    IF create_schedule.ends_at <= create_schedule.starts_at THEN
        RAISE EXCEPTION 'invalid schedule: ends_at must be after starts_at'
            USING ERRCODE = '22023',
                  DETAIL = format('starts_at %s, ends_at %s.', create_schedule.starts_at, create_schedule.ends_at);
    END IF;
    INSERT INTO eventsvc.event_schedules (tenant_id, event_id, starts_at, ends_at, doors_open_at,
                                          timezone, recurrence_rule, notes)
    VALUES (ev.tenant_id, ev.id, create_schedule.starts_at, create_schedule.ends_at,
            create_schedule.doors_open_at, coalesce(create_schedule.timezone, ev.timezone),
            nullif(create_schedule.recurrence_rule, ''), create_schedule.notes)
    RETURNING * INTO rec;
    PERFORM eventsvc.emit_schedule_change(rec.id, 'created');
    RETURN to_jsonb(rec);
END
$$;
COMMENT ON FUNCTION api.create_schedule(uuid, timestamptz, timestamptz, text, text, timestamptz, text) IS
    'Add a schedule (optionally recurring, RFC 5545 RRULE) to an event of the caller''s tenant (POST /rpc/create_schedule).';

-- Update with optimistic locking: expected_version must be the row's current version.
-- A NULL argument leaves the field unchanged; recurrence_rule '' makes it one-off.
CREATE FUNCTION api.update_schedule(schedule_id uuid, expected_version integer,
                                    starts_at timestamptz DEFAULT NULL, ends_at timestamptz DEFAULT NULL,
                                    timezone text DEFAULT NULL, recurrence_rule text DEFAULT NULL,
                                    doors_open_at timestamptz DEFAULT NULL,
                                    status eventsvc.schedule_status DEFAULT NULL, notes text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rec eventsvc.event_schedules;
BEGIN
    IF expected_version IS NULL THEN
        RAISE EXCEPTION 'expected_version is required'
            USING ERRCODE = '22023', HINT = 'Pass the version you read; a stale version is refused (409).';
    END IF;
    UPDATE eventsvc.event_schedules s
       SET starts_at       = coalesce(update_schedule.starts_at, s.starts_at),
           ends_at         = coalesce(update_schedule.ends_at, s.ends_at),
           timezone        = coalesce(update_schedule.timezone, s.timezone),
           recurrence_rule = CASE WHEN update_schedule.recurrence_rule IS NULL THEN s.recurrence_rule
                                  ELSE nullif(update_schedule.recurrence_rule, '') END,
           doors_open_at   = coalesce(update_schedule.doors_open_at, s.doors_open_at),
           status          = coalesce(update_schedule.status, s.status),
           notes           = coalesce(update_schedule.notes, s.notes),
           version         = expected_version
     WHERE s.id = update_schedule.schedule_id
    RETURNING * INTO rec;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schedule % not found', update_schedule.schedule_id USING ERRCODE = 'PT404';
    END IF;
    PERFORM eventsvc.emit_schedule_change(rec.id, 'updated');
    RETURN to_jsonb(rec);
END
$$;
COMMENT ON FUNCTION api.update_schedule(uuid, integer, timestamptz, timestamptz, text, text, timestamptz,
                                        eventsvc.schedule_status, text) IS
    'Change a schedule; expected_version guards against lost updates (409 when stale).';

-- Remove a schedule that nothing sells against: sections or price tiers bound to
-- it must be moved or removed first (a conflict, not a cascade that drops seats).
CREATE FUNCTION api.delete_schedule(schedule_id uuid, expected_version integer) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rec eventsvc.event_schedules;
BEGIN
    SELECT * INTO rec FROM eventsvc.event_schedules s WHERE s.id = delete_schedule.schedule_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schedule % not found', delete_schedule.schedule_id USING ERRCODE = 'PT404';
    END IF;
    IF expected_version IS DISTINCT FROM rec.version THEN
        RAISE EXCEPTION 'event_schedules row was changed by someone else: expected version %, current version %',
              coalesce(expected_version::text, 'null'), rec.version
              USING ERRCODE = 'PT409', HINT = 'Read the schedule again and retry with its current version.';
    END IF;
    IF EXISTS (SELECT 1 FROM eventsvc.event_capacity c WHERE c.tenant_id = rec.tenant_id AND c.schedule_id = rec.id)
       OR EXISTS (SELECT 1 FROM eventsvc.event_pricing p WHERE p.tenant_id = rec.tenant_id AND p.schedule_id = rec.id) THEN
        RAISE EXCEPTION 'schedule % still has sections or price tiers', rec.id
              USING ERRCODE = 'PT409', HINT = 'Move or remove the sections and price tiers of this schedule first.';
    END IF;
    PERFORM eventsvc.emit_schedule_change(rec.id, 'deleted');
    DELETE FROM eventsvc.event_schedules s WHERE s.tenant_id = rec.tenant_id AND s.id = rec.id;
    RETURN jsonb_build_object('schedule_id', rec.id, 'event_id', rec.event_id, 'deleted', true);
END
$$;
COMMENT ON FUNCTION api.delete_schedule(uuid, integer) IS
    'Remove a schedule without sections or price tiers; expected_version guards against lost updates.';

-- Occurrences of every schedule of an event whose start lies in
-- [starts_from, starts_before). Open-ended rules are expanded up to starts_before
-- (and never past the hard cap of 10000 per schedule).
CREATE FUNCTION api.event_occurrences(event_id uuid, starts_from timestamptz DEFAULT NULL,
                                      starts_before timestamptz DEFAULT NULL)
RETURNS TABLE (schedule_id uuid, starts_at timestamptz, ends_at timestamptz,
               doors_open_at timestamptz, timezone text, status eventsvc.schedule_status)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(event_occurrences.event_id);
BEGIN
    RETURN QUERY
    SELECT s.id, o.starts_at, o.ends_at,
           o.starts_at - (s.starts_at - s.doors_open_at), s.timezone, s.status
      FROM eventsvc.event_schedules s
     CROSS JOIN LATERAL (
            SELECT x.starts_at, x.ends_at
              FROM eventsvc.expand_rrule(s.recurrence_rule, s.starts_at AT TIME ZONE s.timezone,
                                         s.timezone,
                                         (s.ends_at AT TIME ZONE s.timezone) - (s.starts_at AT TIME ZONE s.timezone),
                                         10000, event_occurrences.starts_before) x
             WHERE s.is_recurring
            UNION ALL
            SELECT s.starts_at, s.ends_at WHERE NOT s.is_recurring) o
     WHERE s.tenant_id = tenant AND s.event_id = event_occurrences.event_id
       AND (event_occurrences.starts_from IS NULL OR o.starts_at >= event_occurrences.starts_from)
       AND (event_occurrences.starts_before IS NULL OR o.starts_at < event_occurrences.starts_before)
     ORDER BY o.starts_at, s.id;
END
$$;
COMMENT ON FUNCTION api.event_occurrences(uuid, timestamptz, timestamptz) IS
    'Occurrences of an event''s schedules starting in [starts_from, starts_before), for anyone who may see the event.';

REVOKE ALL ON FUNCTION eventsvc.expand_rrule(text, timestamp, text, interval, integer, timestamptz),
                       eventsvc.validate_rrule(text), eventsvc.check_timezone(text),
                       eventsvc.require_finite(timestamptz, text),
                       eventsvc.schedule_recurrence_end(text, timestamptz, timestamptz, text),
                       eventsvc.schedule_check_trigger(), eventsvc.caller_scope(),
                       eventsvc.event_is_visible(uuid, eventsvc.events, boolean),
                       eventsvc.visible_event_tenant(uuid), eventsvc.emit_schedule_change(uuid, text),
                       api.create_schedule(uuid, timestamptz, timestamptz, text, text, timestamptz, text),
                       api.update_schedule(uuid, integer, timestamptz, timestamptz, text, text, timestamptz,
                                           eventsvc.schedule_status, text),
                       api.event_occurrences(uuid, timestamptz, timestamptz), api.delete_schedule(uuid, integer),
                       api.preview_occurrences(text, timestamptz, timestamptz, text, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.expand_rrule(text, timestamp, text, interval, integer, timestamptz),
                          eventsvc.validate_rrule(text), eventsvc.check_timezone(text),
                          eventsvc.require_finite(timestamptz, text),
                          eventsvc.schedule_recurrence_end(text, timestamptz, timestamptz, text),
                          eventsvc.schedule_check_trigger(), eventsvc.caller_scope(),
                          eventsvc.event_is_visible(uuid, eventsvc.events, boolean),
                          eventsvc.visible_event_tenant(uuid)
    TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
GRANT EXECUTE ON FUNCTION eventsvc.emit_schedule_change(uuid, text) TO eventsvc_user;
GRANT EXECUTE ON FUNCTION api.create_schedule(uuid, timestamptz, timestamptz, text, text, timestamptz, text),
                          api.preview_occurrences(text, timestamptz, timestamptz, text, integer),
                          api.delete_schedule(uuid, integer),
                          api.update_schedule(uuid, integer, timestamptz, timestamptz, text, text, timestamptz,
                                              eventsvc.schedule_status, text)
    TO eventsvc_user;
GRANT EXECUTE ON FUNCTION api.event_occurrences(uuid, timestamptz, timestamptz)
    TO eventsvc_anon, eventsvc_user, eventsvc_service;
-- Part 61: discovery. Full-text search over name, descriptions, tags, performers
-- and venue name; featured events; a view counter that never touches the event
-- row. Reads are SECURITY DEFINER with the visibility rule of part 60
-- (eventsvc.caller_scope / eventsvc.event_is_visible) applied in the query,
-- because the anonymous role has no tenant and no table rights.
-- See docs/discovery.md "Search", "Featured events", "View counter".

-- The search document lives beside the event, not in it: performers and the venue
-- name come from other tables, and refreshing the document must not bump the
-- event's version nor write an audit entry.
CREATE TABLE eventsvc.event_search_documents (
    tenant_id   uuid NOT NULL,
    event_id    uuid NOT NULL,
    document    tsvector NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_event_search_documents_gin ON eventsvc.event_search_documents USING gin (document);

-- Performer names from event_metadata.performers: strings, or objects with a "name".
CREATE FUNCTION eventsvc.performer_names(performers jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT string_agg(CASE jsonb_typeof(p) WHEN 'string' THEN p #>> '{}' ELSE p ->> 'name' END, ' ')
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(performers) = 'array' THEN performers ELSE '[]' END) AS p
$$;

-- Weights: A name; B short description, tags, performers, headliner, supporting
-- acts; C description and venue name. The text search configuration is 'simple'
-- (no stemming), the same as events.search_vector, because events are in many languages.
CREATE FUNCTION eventsvc.refresh_search_document(p_tenant_id uuid, p_event_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO eventsvc.event_search_documents AS d (tenant_id, event_id, document, updated_at)
    SELECT e.tenant_id, e.id,
           e.search_vector
           || setweight(to_tsvector('simple', array_to_string(e.tags, ' ')), 'B')
           || setweight(to_tsvector('simple', concat_ws(' ', eventsvc.performer_names(m.performers),
                                                        m.headliner,
                                                        array_to_string(m.supporting_acts, ' '))), 'B')
           || setweight(to_tsvector('simple', coalesce(v.name, '')), 'C'),
           now()
      FROM eventsvc.events e
      LEFT JOIN eventsvc.event_metadata m ON m.tenant_id = e.tenant_id AND m.event_id = e.id
      LEFT JOIN eventsvc.venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id
     WHERE e.tenant_id = p_tenant_id AND e.id = p_event_id
    ON CONFLICT (tenant_id, event_id)
        DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at
$$;

CREATE FUNCTION eventsvc.search_document_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    IF TG_TABLE_NAME = 'events' THEN
        PERFORM eventsvc.refresh_search_document(NEW.tenant_id, NEW.id);
    ELSIF TG_TABLE_NAME = 'event_metadata' THEN
        IF TG_OP = 'DELETE' THEN
            PERFORM eventsvc.refresh_search_document(OLD.tenant_id, OLD.event_id);
        ELSE
            PERFORM eventsvc.refresh_search_document(NEW.tenant_id, NEW.event_id);
        END IF;
    ELSIF TG_TABLE_NAME = 'venues' THEN
        FOR r IN SELECT e.tenant_id, e.id FROM eventsvc.events e
                  WHERE e.tenant_id = NEW.tenant_id AND e.venue_id = NEW.id LOOP
            PERFORM eventsvc.refresh_search_document(r.tenant_id, r.id);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_search_document
    AFTER INSERT OR UPDATE OF name, short_description, description, tags, venue_id ON eventsvc.events
    FOR EACH ROW EXECUTE FUNCTION eventsvc.search_document_trigger();
CREATE TRIGGER event_metadata_search_document
    AFTER INSERT OR UPDATE OR DELETE ON eventsvc.event_metadata
    FOR EACH ROW EXECUTE FUNCTION eventsvc.search_document_trigger();
CREATE TRIGGER venues_search_document
    AFTER UPDATE OF name ON eventsvc.venues
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION eventsvc.search_document_trigger();

-- The row every discovery list returns.
CREATE TYPE eventsvc.event_card AS (
    id                uuid,
    tenant_id         uuid,
    name              text,
    slug              text,
    short_description text,
    status            eventsvc.event_status,
    starts_at         timestamptz,
    ends_at           timestamptz,
    timezone          text,
    venue_id          uuid,
    venue_name        text,
    category          text,
    is_virtual        boolean,
    image_url         text,
    is_featured       boolean,
    featured_order    integer,
    min_price         bigint,
    max_price         bigint,
    currency          text,
    rank              real
);

-- One card, for a row already found visible. Prices: lowest and highest active,
-- visible tier (minor units).
CREATE FUNCTION eventsvc.event_card_of(p_tenant_id uuid, p_event_id uuid, p_rank real)
RETURNS eventsvc.event_card
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT e.id, e.tenant_id, e.name, e.slug, e.short_description, e.status, e.starts_at, e.ends_at,
           e.timezone, e.venue_id, v.name, c.slug, e.is_virtual, e.image_url, e.is_featured,
           e.featured_order, pr.min_price, pr.max_price, pr.currency, p_rank
      FROM eventsvc.events e
      LEFT JOIN eventsvc.venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id
      LEFT JOIN eventsvc.event_categories c ON c.id = e.primary_category_id
      LEFT JOIN LATERAL (
            SELECT min(coalesce(p.current_price, p.base_price)) AS min_price,
                   max(coalesce(p.current_price, p.base_price)) AS max_price,
                   min(p.currency)::text AS currency
              FROM eventsvc.event_pricing p
             WHERE p.tenant_id = e.tenant_id AND p.event_id = e.id AND p.is_active AND p.is_visible) pr ON true
     WHERE e.tenant_id = p_tenant_id AND e.id = p_event_id
$$;

-- Search. q is a web-search style query ("rock -jazz", "\"blue note\"").
-- category is a slug and includes its subcategories. Prices are minor units
-- compared with each event's own active, visible price tiers (an event matches when
-- one tier lies in [min_price, max_price]). Ordered by rank (ts_rank_cd), then
-- start time. page_limit 1..100. tenant_id narrows the public catalogue to one
-- tenant (a tenant's own storefront); it never widens what the caller may see.
CREATE FUNCTION api.search_events(q text DEFAULT NULL, category text DEFAULT NULL,
                                  starts_from timestamptz DEFAULT NULL, starts_before timestamptz DEFAULT NULL,
                                  venue_id uuid DEFAULT NULL, min_price bigint DEFAULT NULL,
                                  max_price bigint DEFAULT NULL, is_virtual boolean DEFAULT NULL,
                                  page_limit integer DEFAULT 20, page_offset integer DEFAULT 0,
                                  tenant_id uuid DEFAULT NULL)
RETURNS SETOF eventsvc.event_card
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning     -- websearch_to_tsquery's NOTICE on a query of stop characters
AS $$
DECLARE
    scope uuid := eventsvc.caller_scope();
    query tsquery;
    cats  uuid[];
BEGIN
    IF page_limit IS NULL OR page_limit NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'page_limit must be from 1 to 100' USING ERRCODE = '22023',
              DETAIL = format('Got %s.', coalesce(page_limit::text, 'null'));
    END IF;
    IF page_offset IS NULL OR page_offset NOT BETWEEN 0 AND 10000 THEN
        RAISE EXCEPTION 'page_offset must be from 0 to 10000' USING ERRCODE = '22023',
              DETAIL = format('Got %s.', coalesce(page_offset::text, 'null')),
              HINT = 'Narrow the search instead of paging that deep.';
    END IF;
    IF starts_from IS NOT NULL AND starts_before IS NOT NULL AND starts_before <= starts_from THEN
        RAISE EXCEPTION 'starts_before must be after starts_from' USING ERRCODE = '22023';
    END IF;
    IF min_price < 0 OR max_price < 0 OR min_price > max_price THEN
        RAISE EXCEPTION 'price range must satisfy 0 <= min_price <= max_price (minor units)' USING ERRCODE = '22023',
              DETAIL = format('Got min_price %s, max_price %s.', min_price, max_price);
    END IF;
    IF length(q) > 500 THEN
        RAISE EXCEPTION 'q is longer than 500 characters' USING ERRCODE = '22023';
    END IF;
    IF nullif(btrim(q), '') IS NOT NULL THEN
        query := websearch_to_tsquery('simple', q);
        IF numnode(query) = 0 THEN
            RETURN;     -- only punctuation: nothing can match (and no NOTICE from @@)
        END IF;
    END IF;
    IF category IS NOT NULL THEN
        WITH RECURSIVE tree AS (
            SELECT c.id FROM eventsvc.event_categories c WHERE c.slug = search_events.category AND c.is_active
            UNION ALL
            SELECT c.id FROM eventsvc.event_categories c JOIN tree t ON c.parent_id = t.id WHERE c.is_active)
        SELECT array_agg(id) INTO cats FROM tree;
        IF cats IS NULL THEN
            RAISE EXCEPTION 'unknown category "%"', category USING ERRCODE = '22023',
                  HINT = 'Use a slug from api.categories, e.g. music or rock.';
        END IF;
    END IF;

    -- the page first (ids and rank), then the card details for those rows only
    RETURN QUERY
    WITH hits AS (
        SELECT e.tenant_id, e.id, e.starts_at,
               CASE WHEN query IS NULL THEN 0::real ELSE ts_rank_cd(d.document, query) END AS rank
          FROM eventsvc.events e
          JOIN eventsvc.tenants t ON t.id = e.tenant_id
          JOIN eventsvc.event_search_documents d ON d.tenant_id = e.tenant_id AND d.event_id = e.id
         WHERE eventsvc.event_is_visible(scope, e, t.is_active)
           AND (query IS NULL OR d.document @@ query)
           AND (cats IS NULL OR e.primary_category_id = ANY (cats))
           AND (search_events.starts_from IS NULL OR e.starts_at >= search_events.starts_from)
           AND (search_events.starts_before IS NULL OR e.starts_at < search_events.starts_before)
           AND (search_events.venue_id IS NULL OR e.venue_id = search_events.venue_id)
           AND (search_events.tenant_id IS NULL OR e.tenant_id = search_events.tenant_id)
           AND (search_events.is_virtual IS NULL OR e.is_virtual = search_events.is_virtual)
           AND (search_events.min_price IS NULL AND search_events.max_price IS NULL
                OR EXISTS (SELECT 1 FROM eventsvc.event_pricing p
                            WHERE p.tenant_id = e.tenant_id AND p.event_id = e.id AND p.is_active AND p.is_visible
                              AND coalesce(p.current_price, p.base_price) >= coalesce(search_events.min_price, 0)
                              AND (search_events.max_price IS NULL
                                   OR coalesce(p.current_price, p.base_price) <= search_events.max_price)))
         ORDER BY 4 DESC, e.starts_at NULLS LAST, e.id
         LIMIT page_limit OFFSET page_offset)
    SELECT card.* FROM hits h CROSS JOIN LATERAL eventsvc.event_card_of(h.tenant_id, h.id, h.rank) card
     ORDER BY h.rank DESC, h.starts_at NULLS LAST, h.id;
END
$$;
COMMENT ON FUNCTION api.search_events(text, text, timestamptz, timestamptz, uuid, bigint, bigint, boolean, integer, integer, uuid) IS
    'Full-text event search with filters, ranked; the public sees published PUBLIC events of active tenants, tenant users their whole tenant (GET /rpc/search_events).';

-- Featured events, in featured_order, only those the caller may see.
CREATE FUNCTION api.featured_events(page_limit integer DEFAULT 10, tenant_id uuid DEFAULT NULL)
RETURNS SETOF eventsvc.event_card
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    scope uuid := eventsvc.caller_scope();
BEGIN
    IF page_limit IS NULL OR page_limit NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'page_limit must be from 1 to 100' USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    WITH hits AS (
        SELECT e.tenant_id, e.id, e.featured_order, e.starts_at
          FROM eventsvc.events e
          JOIN eventsvc.tenants t ON t.id = e.tenant_id
         WHERE e.is_featured AND eventsvc.event_is_visible(scope, e, t.is_active)
           AND (featured_events.tenant_id IS NULL OR e.tenant_id = featured_events.tenant_id)
         ORDER BY e.featured_order NULLS LAST, e.starts_at NULLS LAST, e.id
         LIMIT page_limit)
    SELECT card.* FROM hits h CROSS JOIN LATERAL eventsvc.event_card_of(h.tenant_id, h.id, 0) card
     ORDER BY h.featured_order NULLS LAST, h.starts_at NULLS LAST, h.id;
END
$$;
COMMENT ON FUNCTION api.featured_events(integer, uuid) IS
    'Featured events in featured_order, visible ones only (GET /rpc/featured_events).';

-- View counts: several rows per event (shards) so concurrent viewers rarely wait
-- on the same row; each view is one INSERT ... ON CONFLICT DO UPDATE, atomic, so
-- no increment is lost. The event row is never touched (no version bump, no audit).
CREATE TABLE eventsvc.event_view_counts (
    tenant_id  uuid NOT NULL,
    event_id   uuid NOT NULL,
    shard      smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
    views      bigint NOT NULL DEFAULT 0 CHECK (views >= 0),
    PRIMARY KEY (tenant_id, event_id, shard),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE
);

CREATE FUNCTION api.record_view(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(record_view.event_id);
BEGIN
    -- the backend's pid picks the shard: one session's views stay on one row,
    -- concurrent sessions spread over 16
    INSERT INTO eventsvc.event_view_counts AS c (tenant_id, event_id, shard, views)
    VALUES (tenant, record_view.event_id, (pg_backend_pid() % 16)::smallint, 1)
    ON CONFLICT ON CONSTRAINT event_view_counts_pkey DO UPDATE SET views = c.views + 1;
    RETURN jsonb_build_object('event_id', record_view.event_id, 'recorded', true);
END
$$;
COMMENT ON FUNCTION api.record_view(uuid) IS
    'Count one view of a visible event (POST /rpc/record_view); never rewrites the event row.';

CREATE FUNCTION api.event_view_count(event_id uuid) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(event_view_count.event_id);
BEGIN
    RETURN (SELECT coalesce(sum(c.views), 0)::bigint FROM eventsvc.event_view_counts c
             WHERE c.tenant_id = tenant AND c.event_id = event_view_count.event_id);
END
$$;

-- New tenant tables: the same RLS as part 28 (forced, one policy on the tenant).
ALTER TABLE eventsvc.event_search_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_search_documents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.event_search_documents TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));
ALTER TABLE eventsvc.event_view_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_view_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.event_view_counts TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));

-- Tenant users read their own rows; all writes go through the definer functions above.
GRANT SELECT ON eventsvc.event_search_documents, eventsvc.event_view_counts TO eventsvc_user, eventsvc_service;
REVOKE ALL ON FUNCTION eventsvc.performer_names(jsonb), eventsvc.refresh_search_document(uuid, uuid),
                       eventsvc.search_document_trigger(), eventsvc.event_card_of(uuid, uuid, real),
                       api.search_events(text, text, timestamptz, timestamptz, uuid, bigint, bigint, boolean, integer, integer, uuid),
                       api.featured_events(integer, uuid), api.record_view(uuid), api.event_view_count(uuid)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.performer_names(jsonb)
    TO eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION api.search_events(text, text, timestamptz, timestamptz, uuid, bigint, bigint, boolean, integer, integer, uuid),
                          api.featured_events(integer, uuid), api.record_view(uuid), api.event_view_count(uuid)
    TO eventsvc_anon, eventsvc_user, eventsvc_service;
-- Part 62: rich content that the original kept in MongoDB: long descriptions per
-- locale, ordered FAQs, reviews with moderation, and a rating summary kept by
-- trigger so the average and count are read without scanning the reviews.
-- Writes are invoker functions (RLS applies); public reads are SECURITY DEFINER
-- behind eventsvc.visible_event_tenant. See docs/discovery.md "Rich content".

-- One row per event: maintained by the review trigger below, never written by
-- clients. Only approved reviews count.
CREATE TABLE eventsvc.event_rating_summaries (
    tenant_id      uuid NOT NULL,
    event_id       uuid NOT NULL,
    review_count   integer NOT NULL DEFAULT 0 CHECK (review_count >= 0),
    rating_sum     bigint NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
    stars          integer[] NOT NULL DEFAULT '{0,0,0,0,0}' CHECK (cardinality(stars) = 5),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES eventsvc.events (tenant_id, id) ON DELETE CASCADE,
    CHECK (rating_sum BETWEEN review_count AND 5 * review_count)
);
ALTER TABLE eventsvc.event_rating_summaries ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.event_rating_summaries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.event_rating_summaries TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));

-- Who changed which content, when, and what: the content's counterpart of
-- event_audit_log (whose rows describe the event row itself). Written only by the
-- trigger below, so no code path skips it; tenant users and admins read their
-- tenant's rows (RLS).
CREATE TABLE eventsvc.content_audit_log (
    tenant_id      uuid NOT NULL REFERENCES eventsvc.tenants (id),
    id             bigint GENERATED ALWAYS AS IDENTITY,
    event_id       uuid NOT NULL,
    content        text NOT NULL CHECK (content IN ('event_content', 'event_faqs', 'event_reviews', 'event_metadata')),
    action         text NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE')),
    row_key        text NOT NULL,
    actor_id       text,
    actor_role     text NOT NULL,
    changed_fields jsonb NOT NULL DEFAULT '{}',
    txid           bigint NOT NULL DEFAULT txid_current(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_content_audit_event ON eventsvc.content_audit_log (tenant_id, event_id, id);
ALTER TABLE eventsvc.content_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.content_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON eventsvc.content_audit_log TO eventsvc_user, eventsvc_service
    USING (tenant_id = (SELECT eventsvc.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT eventsvc.current_tenant_id()));

CREATE FUNCTION eventsvc.session_role() RETURNS text
    AS 'MODULE_PATHNAME', 'evs_sql_session_role' LANGUAGE C STABLE PARALLEL SAFE;

-- Changed fields as {"field": {"old": ..., "new": ...}}; the whole row (minus the
-- tenant) for an insert or a delete. updated_at says nothing the row does not.
CREATE FUNCTION eventsvc.content_audit_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) - 'tenant_id' - 'updated_at' END;
    n jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) - 'tenant_id' - 'updated_at' END;
    r jsonb := coalesce(n, o);
    changes jsonb;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        SELECT coalesce(jsonb_object_agg(k, jsonb_build_object('old', o -> k, 'new', n -> k)), '{}')
          INTO changes
          FROM jsonb_object_keys(n) k
         WHERE (o -> k) IS DISTINCT FROM (n -> k);
        IF changes = '{}' THEN
            RETURN NULL;
        END IF;
    ELSE
        changes := r;
    END IF;
    INSERT INTO eventsvc.content_audit_log (tenant_id, event_id, content, action, row_key, actor_id, actor_role,
                                            changed_fields)
    VALUES (coalesce(NEW.tenant_id, OLD.tenant_id), (r ->> 'event_id')::uuid, TG_TABLE_NAME, TG_OP,
            coalesce(r ->> 'id', r ->> 'locale'), eventsvc.current_actor(), eventsvc.session_role(), changes);
    RETURN NULL;
END
$$;
CREATE TRIGGER event_content_audit AFTER INSERT OR UPDATE OR DELETE ON eventsvc.event_content
    FOR EACH ROW EXECUTE FUNCTION eventsvc.content_audit_trigger();
CREATE TRIGGER event_faqs_audit AFTER INSERT OR UPDATE OR DELETE ON eventsvc.event_faqs
    FOR EACH ROW EXECUTE FUNCTION eventsvc.content_audit_trigger();
CREATE TRIGGER event_reviews_audit AFTER INSERT OR UPDATE OR DELETE ON eventsvc.event_reviews
    FOR EACH ROW EXECUTE FUNCTION eventsvc.content_audit_trigger();

-- Review rules for every writer, the API or direct SQL: a user writes only their
-- own review (user_id is the caller), and only a tenant admin moderates.
CREATE FUNCTION eventsvc.review_rules_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF eventsvc.is_tenant_admin() THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        NEW.user_id := eventsvc.current_actor();
        IF NEW.moderation_state <> 'pending' THEN
            RAISE EXCEPTION 'only a tenant admin may moderate reviews' USING ERRCODE = '42501',
                  HINT = 'New reviews start as pending; an admin approves them with api.moderate_review.';
        END IF;
    ELSE
        IF OLD.user_id <> eventsvc.current_actor() OR NEW.user_id <> OLD.user_id THEN
            RAISE EXCEPTION 'a review can only be changed by its author' USING ERRCODE = '42501';
        END IF;
        IF NEW.moderation_state <> OLD.moderation_state THEN
            RAISE EXCEPTION 'only a tenant admin may moderate reviews' USING ERRCODE = '42501';
        END IF;
        -- an edited review goes back to moderation
        IF (NEW.rating, NEW.title, NEW.body) IS DISTINCT FROM (OLD.rating, OLD.title, OLD.body) THEN
            NEW.moderation_state := 'pending';
        END IF;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER event_reviews_rules BEFORE INSERT OR UPDATE ON eventsvc.event_reviews
    FOR EACH ROW EXECUTE FUNCTION eventsvc.review_rules_trigger();

-- Keeps event_rating_summaries equal to the approved reviews. Reviews are not a
-- hot table (one write per user per event), so a PL/pgSQL trigger is enough;
-- the row lock on the summary row serialises concurrent reviews of one event.
CREATE FUNCTION eventsvc.review_summary_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d_count integer := 0;
    d_sum   integer := 0;
    d_stars integer[] := '{0,0,0,0,0}';
    t_id    uuid;
    e_id    uuid;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.moderation_state = 'approved' THEN
        d_count := d_count - 1;
        d_sum := d_sum - OLD.rating;
        d_stars[OLD.rating] := d_stars[OLD.rating] - 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.moderation_state = 'approved' THEN
        d_count := d_count + 1;
        d_sum := d_sum + NEW.rating;
        d_stars[NEW.rating] := d_stars[NEW.rating] + 1;
    END IF;
    IF d_count = 0 AND d_sum = 0 AND d_stars = '{0,0,0,0,0}' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        t_id := OLD.tenant_id; e_id := OLD.event_id;
    ELSE
        t_id := NEW.tenant_id; e_id := NEW.event_id;
    END IF;
    -- the event may be going away (cascade): then there is nothing to keep
    IF NOT EXISTS (SELECT 1 FROM eventsvc.events e WHERE e.tenant_id = t_id AND e.id = e_id) THEN
        RETURN NULL;
    END IF;
    -- an empty row first (a delta row could break the CHECK before ON CONFLICT
    -- applies), then the delta under the row lock
    INSERT INTO eventsvc.event_rating_summaries (tenant_id, event_id) VALUES (t_id, e_id)
    ON CONFLICT ON CONSTRAINT event_rating_summaries_pkey DO NOTHING;
    UPDATE eventsvc.event_rating_summaries s
       SET review_count = s.review_count + d_count,
           rating_sum   = s.rating_sum + d_sum,
           stars        = ARRAY[s.stars[1] + d_stars[1], s.stars[2] + d_stars[2], s.stars[3] + d_stars[3],
                                s.stars[4] + d_stars[4], s.stars[5] + d_stars[5]],
           updated_at   = now()
     WHERE s.tenant_id = t_id AND s.event_id = e_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER event_reviews_summary AFTER INSERT OR UPDATE OR DELETE ON eventsvc.event_reviews
    FOR EACH ROW EXECUTE FUNCTION eventsvc.review_summary_trigger();

-- Long description, highlights and media of one locale (insert or replace).
CREATE FUNCTION api.set_event_content(event_id uuid, locale text DEFAULT 'en', long_description text DEFAULT NULL,
                                      highlights jsonb DEFAULT NULL, media jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rec eventsvc.event_content;
    tenant uuid;
BEGIN
    SELECT e.tenant_id INTO tenant FROM eventsvc.events e
     WHERE e.id = set_event_content.event_id AND e.deleted_at IS NULL;
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'event % not found', set_event_content.event_id USING ERRCODE = 'PT404';
    END IF;
    IF locale IS NULL OR locale !~ '^[a-z]{2}(-[A-Z]{2})?$' THEN
        RAISE EXCEPTION 'invalid locale "%"', locale USING ERRCODE = '22023',
              HINT = 'Use a language code with an optional region, e.g. en, de or pt-BR.';
    END IF;
    IF highlights IS NOT NULL AND jsonb_typeof(highlights) <> 'array'
       OR media IS NOT NULL AND jsonb_typeof(media) <> 'array' THEN
        RAISE EXCEPTION 'highlights and media must be JSON arrays' USING ERRCODE = '22023';
    END IF;
    INSERT INTO eventsvc.event_content AS c (tenant_id, event_id, locale, long_description, highlights, media)
    VALUES (tenant, set_event_content.event_id, set_event_content.locale, set_event_content.long_description,
            coalesce(set_event_content.highlights, '[]'), coalesce(set_event_content.media, '[]'))
    ON CONFLICT ON CONSTRAINT event_content_pkey DO UPDATE
       SET long_description = excluded.long_description,
           highlights = CASE WHEN set_event_content.highlights IS NULL THEN c.highlights ELSE excluded.highlights END,
           media = CASE WHEN set_event_content.media IS NULL THEN c.media ELSE excluded.media END,
           updated_at = now()
    RETURNING * INTO rec;
    RETURN to_jsonb(rec);
END
$$;

-- Replaces an event's FAQs with the given ordered list [{"question": ..., "answer": ...}, ...].
CREATE FUNCTION api.set_event_faqs(event_id uuid, faqs jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid;
    bad    record;
BEGIN
    SELECT e.tenant_id INTO tenant FROM eventsvc.events e
     WHERE e.id = set_event_faqs.event_id AND e.deleted_at IS NULL;
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'event % not found', set_event_faqs.event_id USING ERRCODE = 'PT404';
    END IF;
    IF faqs IS NULL OR jsonb_typeof(faqs) <> 'array' OR jsonb_array_length(faqs) > 100 THEN
        RAISE EXCEPTION 'faqs must be a JSON array of at most 100 {"question", "answer"} objects'
              USING ERRCODE = '22023';
    END IF;
    SELECT f.ord - 1 AS pos INTO bad FROM jsonb_array_elements(faqs) WITH ORDINALITY AS f(item, ord)
     WHERE jsonb_typeof(f.item) <> 'object' OR jsonb_typeof(f.item -> 'question') IS DISTINCT FROM 'string'
        OR jsonb_typeof(f.item -> 'answer') IS DISTINCT FROM 'string'
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'faq at position % needs a string "question" and a string "answer"', bad.pos
              USING ERRCODE = '22023';
    END IF;
    DELETE FROM eventsvc.event_faqs f WHERE f.tenant_id = tenant AND f.event_id = set_event_faqs.event_id;
    INSERT INTO eventsvc.event_faqs (tenant_id, event_id, position, question, answer)
    SELECT tenant, set_event_faqs.event_id, (f.ord - 1)::integer, f.item ->> 'question', f.item ->> 'answer'
      FROM jsonb_array_elements(faqs) WITH ORDINALITY AS f(item, ord);
    RETURN jsonb_build_object('event_id', set_event_faqs.event_id, 'faqs', jsonb_array_length(faqs));
END
$$;

-- Content for a visible event: the locale asked for, else its language, else 'en',
-- else any; with FAQs in order and the rating summary.
CREATE FUNCTION api.event_content(event_id uuid, locale text DEFAULT 'en') RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(event_content.event_id);
    c      eventsvc.event_content;
BEGIN
    SELECT * INTO c FROM eventsvc.event_content x
     WHERE x.tenant_id = tenant AND x.event_id = event_content.event_id
     ORDER BY x.locale = event_content.locale DESC, x.locale = split_part(event_content.locale, '-', 1) DESC,
              x.locale = 'en' DESC, x.locale
     LIMIT 1;
    RETURN jsonb_build_object(
        'event_id', event_content.event_id,
        'locale', c.locale,
        'long_description', c.long_description,
        'highlights', coalesce(c.highlights, '[]'),
        'media', coalesce(c.media, '[]'),
        'faqs', coalesce((SELECT jsonb_agg(jsonb_build_object('position', f.position, 'question', f.question,
                                                              'answer', f.answer) ORDER BY f.position)
                            FROM eventsvc.event_faqs f
                           WHERE f.tenant_id = tenant AND f.event_id = event_content.event_id), '[]'),
        'rating', api.event_rating(event_content.event_id));
END
$$;

-- Average rating (exact numeric, 2 decimals) and count of approved reviews: one row read.
CREATE FUNCTION api.event_rating(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(event_rating.event_id);
    s      eventsvc.event_rating_summaries;
BEGIN
    SELECT * INTO s FROM eventsvc.event_rating_summaries x
     WHERE x.tenant_id = tenant AND x.event_id = event_rating.event_id;
    RETURN jsonb_build_object(
        'count', coalesce(s.review_count, 0),
        'average', CASE WHEN coalesce(s.review_count, 0) = 0 THEN NULL
                        ELSE round(s.rating_sum::numeric / s.review_count, 2) END,
        'stars', jsonb_build_object('1', coalesce(s.stars[1], 0), '2', coalesce(s.stars[2], 0),
                                    '3', coalesce(s.stars[3], 0), '4', coalesce(s.stars[4], 0),
                                    '5', coalesce(s.stars[5], 0)));
END
$$;

-- The caller's review of an event (one per user: a second submit edits it and
-- sends it back to moderation).
CREATE FUNCTION api.submit_review(event_id uuid, rating integer, title text DEFAULT NULL, body text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid;
    rec    eventsvc.event_reviews;
BEGIN
    IF rating IS NULL OR rating NOT BETWEEN 1 AND 5 THEN
        RAISE EXCEPTION 'rating must be a whole number from 1 to 5' USING ERRCODE = '22023',
              DETAIL = format('Got %s.', coalesce(rating::text, 'null'));
    END IF;
    SELECT e.tenant_id INTO tenant FROM eventsvc.events e
     WHERE e.id = submit_review.event_id AND e.deleted_at IS NULL;
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'event % not found', submit_review.event_id USING ERRCODE = 'PT404';
    END IF;
    INSERT INTO eventsvc.event_reviews AS r (tenant_id, event_id, user_id, rating, title, body)
    VALUES (tenant, submit_review.event_id, eventsvc.current_actor(), submit_review.rating,
            submit_review.title, submit_review.body)
    ON CONFLICT ON CONSTRAINT event_reviews_one_per_user DO UPDATE
       SET rating = excluded.rating, title = excluded.title, body = excluded.body
    RETURNING * INTO rec;
    RETURN to_jsonb(rec);
END
$$;

-- Tenant admin: approve or reject a review.
CREATE FUNCTION api.moderate_review(review_id uuid, moderation_state text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rec eventsvc.event_reviews;
BEGIN
    IF NOT eventsvc.is_tenant_admin() THEN
        RAISE EXCEPTION 'only a tenant admin may moderate reviews' USING ERRCODE = '42501',
              HINT = 'Call as a member of role eventsvc_admin.';
    END IF;
    IF moderate_review.moderation_state IS NULL
       OR moderate_review.moderation_state NOT IN ('pending', 'approved', 'rejected') THEN
        RAISE EXCEPTION 'moderation_state must be pending, approved or rejected' USING ERRCODE = '22023';
    END IF;
    UPDATE eventsvc.event_reviews r SET moderation_state = moderate_review.moderation_state
     WHERE r.id = moderate_review.review_id
    RETURNING * INTO rec;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'review % not found', review_id USING ERRCODE = 'PT404';
    END IF;
    RETURN to_jsonb(rec);
END
$$;

-- Approved reviews of a visible event, newest first. Tenant users of the event's
-- tenant read all states through eventsvc.event_reviews (RLS).
CREATE FUNCTION api.event_reviews(event_id uuid, page_limit integer DEFAULT 20, page_offset integer DEFAULT 0)
RETURNS TABLE (id uuid, user_id text, rating smallint, title text, body text, created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(event_reviews.event_id);
BEGIN
    IF page_limit IS NULL OR page_limit NOT BETWEEN 1 AND 100 OR page_offset IS NULL OR page_offset < 0 THEN
        RAISE EXCEPTION 'page_limit must be from 1 to 100 and page_offset at least 0' USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    SELECT r.id, r.user_id, r.rating, r.title, r.body, r.created_at
      FROM eventsvc.event_reviews r
     WHERE r.tenant_id = tenant AND r.event_id = event_reviews.event_id AND r.moderation_state = 'approved'
     ORDER BY r.created_at DESC, r.id
     LIMIT page_limit OFFSET page_offset;
END
$$;

GRANT SELECT ON eventsvc.event_rating_summaries, eventsvc.content_audit_log TO eventsvc_user, eventsvc_service;
REVOKE ALL ON FUNCTION eventsvc.session_role(), eventsvc.content_audit_trigger(), eventsvc.review_rules_trigger(), eventsvc.review_summary_trigger(),
                       api.set_event_content(uuid, text, text, jsonb, jsonb), api.set_event_faqs(uuid, jsonb),
                       api.event_content(uuid, text), api.event_rating(uuid),
                       api.submit_review(uuid, integer, text, text), api.moderate_review(uuid, text),
                       api.event_reviews(uuid, integer, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.set_event_content(uuid, text, text, jsonb, jsonb), api.set_event_faqs(uuid, jsonb),
                          api.submit_review(uuid, integer, text, text), api.moderate_review(uuid, text)
    TO eventsvc_user;
GRANT EXECUTE ON FUNCTION api.event_content(uuid, text), api.event_rating(uuid), api.event_reviews(uuid, integer, integer)
    TO eventsvc_anon, eventsvc_user, eventsvc_service;
-- Part 63: categories (global, seeded in part 10, hierarchical by parent_id) and
-- event metadata (performers, headliner, supporting acts, production company,
-- sponsors, custom fields). See docs/discovery.md "Categories" and "Metadata".

-- Active categories, for every role (the table is global reference data).
CREATE VIEW api.categories WITH (security_invoker = true) AS
SELECT c.id, c.parent_id, c.name, c.slug, c.description, c.icon, c.color, c.display_order
  FROM eventsvc.event_categories c
 WHERE c.is_active;
COMMENT ON VIEW api.categories IS 'Active event categories (GET /categories); parent_id links a subcategory to its parent.';

-- The category tree, depth-first in display order: depth 0 for roots, path of
-- slugs from the root. A category under an inactive parent is left out with it.
-- Definer only so that the anonymous role needs no right on schema eventsvc; it
-- reads nothing but the global category table.
CREATE FUNCTION api.category_tree()
RETURNS TABLE (id uuid, parent_id uuid, name text, slug text, depth integer, path text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE tree AS (
        SELECT c.id, c.parent_id, c.name, c.slug, 0 AS depth, ARRAY[c.slug] AS path,
               ARRAY[lpad(c.display_order::text, 10, '0') || c.slug] AS sort_key
          FROM eventsvc.event_categories c
         WHERE c.parent_id IS NULL AND c.is_active
        UNION ALL
        SELECT c.id, c.parent_id, c.name, c.slug, t.depth + 1, t.path || c.slug,
               t.sort_key || (lpad(c.display_order::text, 10, '0') || c.slug)
          FROM eventsvc.event_categories c
          JOIN tree t ON c.parent_id = t.id
         WHERE c.is_active AND t.depth < 10)
    SELECT tree.id, tree.parent_id, tree.name, tree.slug, tree.depth, tree.path
      FROM tree ORDER BY tree.sort_key
$$;
COMMENT ON FUNCTION api.category_tree() IS 'Active categories as a tree: depth and slug path, depth-first (GET /rpc/category_tree).';

-- custom_fields limits, checked in C for every writer (src/discovery.c).
CREATE FUNCTION eventsvc.check_custom_fields(custom_fields jsonb) RETURNS boolean
    AS 'MODULE_PATHNAME', 'evs_sql_check_custom_fields' LANGUAGE C IMMUTABLE PARALLEL SAFE;
ALTER TABLE eventsvc.event_metadata
    ADD CONSTRAINT event_metadata_custom_fields_valid CHECK (eventsvc.check_custom_fields(custom_fields)),
    ADD CONSTRAINT event_metadata_list_sizes CHECK (jsonb_array_length(performers) <= 100
                                                   AND jsonb_array_length(sponsors) <= 100
                                                   AND cardinality(supporting_acts) <= 100),
    ADD CONSTRAINT event_metadata_text_sizes CHECK (length(headliner) <= 300 AND length(production_company) <= 300);

CREATE TRIGGER event_metadata_audit AFTER INSERT OR UPDATE OR DELETE ON eventsvc.event_metadata
    FOR EACH ROW EXECUTE FUNCTION eventsvc.content_audit_trigger();

-- Each performer and sponsor is a name, or an object with a string "name".
CREATE FUNCTION eventsvc.check_named_list(field text, items jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    pos bigint;
BEGIN
    IF items IS NULL THEN
        RETURN;
    END IF;
    IF jsonb_typeof(items) <> 'array' THEN
        RAISE EXCEPTION 'invalid %: it must be a JSON array', field USING ERRCODE = '22023';
    END IF;
    SELECT i.ord - 1 INTO pos FROM jsonb_array_elements(items) WITH ORDINALITY AS i(item, ord)
     WHERE NOT coalesce(jsonb_typeof(i.item) = 'string' AND length(i.item #>> '{}') BETWEEN 1 AND 300
                        OR jsonb_typeof(i.item) = 'object' AND jsonb_typeof(i.item -> 'name') = 'string'
                           AND length(i.item ->> 'name') BETWEEN 1 AND 300, false)
     LIMIT 1;
    IF pos IS NOT NULL THEN
        RAISE EXCEPTION 'invalid %: entry % must be a name or an object with a "name" of 1 to 300 characters', field, pos
              USING ERRCODE = '22023', HINT = 'For example ["The Band"] or [{"name": "The Band", "role": "headliner"}].';
    END IF;
END
$$;

-- Insert or change an event's metadata; a NULL argument keeps the stored value.
CREATE FUNCTION api.set_event_metadata(event_id uuid, performers jsonb DEFAULT NULL, headliner text DEFAULT NULL,
                                       supporting_acts text[] DEFAULT NULL, production_company text DEFAULT NULL,
                                       sponsors jsonb DEFAULT NULL, custom_fields jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid;
    rec    eventsvc.event_metadata;
BEGIN
    SELECT e.tenant_id INTO tenant FROM eventsvc.events e
     WHERE e.id = set_event_metadata.event_id AND e.deleted_at IS NULL;
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'event % not found', set_event_metadata.event_id USING ERRCODE = 'PT404';
    END IF;
    PERFORM eventsvc.check_named_list('performers', performers);
    PERFORM eventsvc.check_named_list('sponsors', sponsors);
    INSERT INTO eventsvc.event_metadata AS m (tenant_id, event_id, performers, headliner, supporting_acts,
                                              production_company, sponsors, custom_fields)
    VALUES (tenant, set_event_metadata.event_id, coalesce(set_event_metadata.performers, '[]'),
            set_event_metadata.headliner, coalesce(set_event_metadata.supporting_acts, '{}'),
            set_event_metadata.production_company, coalesce(set_event_metadata.sponsors, '[]'),
            coalesce(set_event_metadata.custom_fields, '{}'))
    ON CONFLICT ON CONSTRAINT event_metadata_event_key DO UPDATE
       SET performers = coalesce(set_event_metadata.performers, m.performers),
           headliner = coalesce(set_event_metadata.headliner, m.headliner),
           supporting_acts = coalesce(set_event_metadata.supporting_acts, m.supporting_acts),
           production_company = coalesce(set_event_metadata.production_company, m.production_company),
           sponsors = coalesce(set_event_metadata.sponsors, m.sponsors),
           custom_fields = coalesce(set_event_metadata.custom_fields, m.custom_fields),
           updated_at = now()
    RETURNING * INTO rec;
    RETURN to_jsonb(rec);
END
$$;

-- Metadata of a visible event ({} when it has none).
CREATE FUNCTION api.event_metadata(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant uuid := eventsvc.visible_event_tenant(event_metadata.event_id);
BEGIN
    RETURN coalesce((SELECT jsonb_build_object('event_id', m.event_id, 'performers', m.performers,
                                               'headliner', m.headliner, 'supporting_acts', to_jsonb(m.supporting_acts),
                                               'production_company', m.production_company, 'sponsors', m.sponsors,
                                               'custom_fields', m.custom_fields, 'updated_at', m.updated_at)
                       FROM eventsvc.event_metadata m
                      WHERE m.tenant_id = tenant AND m.event_id = event_metadata.event_id),
                    jsonb_build_object('event_id', event_metadata.event_id));
END
$$;

REVOKE ALL ON api.categories FROM PUBLIC;
GRANT SELECT ON api.categories TO eventsvc_anon, eventsvc_user, eventsvc_service;
REVOKE ALL ON FUNCTION api.category_tree(), eventsvc.check_custom_fields(jsonb),
                       eventsvc.check_named_list(text, jsonb),
                       api.set_event_metadata(uuid, jsonb, text, text[], text, jsonb, jsonb),
                       api.event_metadata(uuid)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.category_tree(), api.event_metadata(uuid)
    TO eventsvc_anon, eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION eventsvc.check_custom_fields(jsonb), eventsvc.check_named_list(text, jsonb)
    TO eventsvc_user, eventsvc_service, eventsvc_worker;
GRANT EXECUTE ON FUNCTION api.set_event_metadata(uuid, jsonb, text, text[], text, jsonb, jsonb) TO eventsvc_user;
-- Part 64: tickets and analytics reads for dashboards: seats sold, reserved and
-- available per section and per event, revenue from confirmed holds, and simple
-- customer analytics. security_invoker views: RLS keeps each tenant to its rows.
--
-- The hold rows are the source of truth (BRIEF decision 3): sold = seats of
-- CONFIRMED holds, reserved = seats of ACTIVE holds not yet expired by
-- eventsvc.now() (an expired hold the sweeper has not reached yet is already
-- free), available = total - sold - reserved. Reading the holds instead of the
-- section counters makes the figures exact whatever the reservation path keeps
-- in shared memory or stripes. See docs/discovery.md "Tickets and analytics".

CREATE VIEW api.section_availability WITH (security_invoker = true) AS
SELECT c.tenant_id, c.event_id, c.schedule_id, c.id AS capacity_id, c.section_name, c.section_code, c.tier,
       c.is_active, c.total_capacity,
       coalesce(h.sold, 0)::bigint AS sold,
       coalesce(h.reserved, 0)::bigint AS reserved,
       CASE WHEN c.is_active THEN greatest(c.total_capacity - coalesce(h.sold, 0) - coalesce(h.reserved, 0), 0)
            ELSE 0 END::bigint AS available
  FROM eventsvc.event_capacity c
  LEFT JOIN LATERAL (
        SELECT sum(x.quantity) FILTER (WHERE x.state = 'CONFIRMED') AS sold,
               sum(x.quantity) FILTER (WHERE x.state = 'ACTIVE' AND x.expires_at > eventsvc.now()) AS reserved
          FROM eventsvc.capacity_holds x
         WHERE x.tenant_id = c.tenant_id AND x.capacity_id = c.id
           AND x.state IN ('CONFIRMED', 'ACTIVE')) h ON true;
COMMENT ON VIEW api.section_availability IS
    'Per section: total, sold (confirmed holds), reserved (live holds), available; live and exact (GET /section_availability?event_id=eq.<id>).';

CREATE VIEW api.event_availability WITH (security_invoker = true) AS
SELECT s.tenant_id, s.event_id,
       count(*) AS sections,
       sum(s.total_capacity)::bigint AS total_capacity,
       sum(s.sold)::bigint AS sold,
       sum(s.reserved)::bigint AS reserved,
       sum(s.available)::bigint AS available
  FROM api.section_availability s
 GROUP BY s.tenant_id, s.event_id;
COMMENT ON VIEW api.event_availability IS 'Per event: the section figures summed (GET /event_availability?event_id=eq.<id>).';

-- Revenue in minor units per event and currency, from the locked unit price of
-- each confirmed hold. int8 arithmetic: an overflow is an error (22003), never a wrap.
CREATE VIEW api.event_revenue WITH (security_invoker = true) AS
SELECT h.tenant_id, h.event_id, h.currency,
       sum(h.quantity)::bigint AS tickets_sold,
       sum(h.quantity::bigint * h.unit_price)::bigint AS revenue_minor,
       count(*) AS confirmed_holds
  FROM eventsvc.capacity_holds h
 WHERE h.state = 'CONFIRMED' AND h.unit_price IS NOT NULL
 GROUP BY h.tenant_id, h.event_id, h.currency;
COMMENT ON VIEW api.event_revenue IS
    'Per event and currency: tickets sold and revenue in minor units from confirmed holds (GET /event_revenue?event_id=eq.<id>).';

-- Holds are the customer journey of the original's analytics: created, confirmed
-- (bought), expired (abandoned), released (given back). conversion_rate is
-- confirmed / created as an exact numeric with 4 decimals, NULL before any hold.
CREATE VIEW api.event_customer_analytics WITH (security_invoker = true) AS
SELECT h.tenant_id, h.event_id,
       count(*) AS holds_created,
       count(*) FILTER (WHERE h.state = 'CONFIRMED') AS holds_confirmed,
       count(*) FILTER (WHERE h.state = 'EXPIRED'
                           OR h.state = 'ACTIVE' AND h.expires_at <= eventsvc.now()) AS holds_expired,
       count(*) FILTER (WHERE h.state = 'RELEASED') AS holds_released,
       count(*) FILTER (WHERE h.state = 'ACTIVE' AND h.expires_at > eventsvc.now()) AS holds_active,
       count(DISTINCT h.holder_id) AS customers,
       count(DISTINCT h.holder_id) FILTER (WHERE h.state = 'CONFIRMED') AS buying_customers,
       round(count(*) FILTER (WHERE h.state = 'CONFIRMED')::numeric / count(*), 4) AS conversion_rate
  FROM eventsvc.capacity_holds h
 GROUP BY h.tenant_id, h.event_id;
COMMENT ON VIEW api.event_customer_analytics IS
    'Per event: holds created/confirmed/expired/released/active, distinct customers and conversion rate (GET /event_customer_analytics?event_id=eq.<id>).';

REVOKE ALL ON api.section_availability, api.event_availability, api.event_revenue,
              api.event_customer_analytics FROM PUBLIC;
GRANT SELECT ON api.section_availability, api.event_availability, api.event_revenue,
                api.event_customer_analytics TO eventsvc_user, eventsvc_service;
-- Part 65: internal lookups for other platform services (the original's
-- /internal routes): event by id, event by blockchain PDA, scan stats, and the
-- blockchain-service status callback. Service role only: every other role gets
-- 42501, even with EXECUTE (checked in C, src/discovery.c).
--
-- Cross-tenant by design, exactly where the original was: its internal routes
-- take an event id (or PDA) from a service that holds no tenant context (ticket
-- scanning, blockchain-service) and look the event up by that key alone. The
-- answers therefore carry tenant_id, so the calling service can scope its own
-- work. Tenant-scoped reads stay behind RLS. See docs/discovery.md "Internal lookups".

CREATE FUNCTION eventsvc.require_service(action text) RETURNS void
    AS 'MODULE_PATHNAME', 'evs_sql_require_service' LANGUAGE C STABLE PARALLEL SAFE;

-- What services see of an event: everything but the search vector.
CREATE FUNCTION eventsvc.internal_event_document(e eventsvc.events) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT to_jsonb(e) - 'search_vector'
$$;

CREATE FUNCTION api.internal_event(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e eventsvc.events;
BEGIN
    PERFORM eventsvc.require_service('look up events by id across tenants');
    SELECT * INTO e FROM eventsvc.events x WHERE x.id = internal_event.event_id AND x.deleted_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'event % not found', internal_event.event_id USING ERRCODE = 'PT404';
    END IF;
    RETURN eventsvc.internal_event_document(e);
END
$$;
COMMENT ON FUNCTION api.internal_event(uuid) IS
    'Service role: an event by id across tenants, with its tenant_id (GET /rpc/internal_event?event_id=...).';

CREATE FUNCTION api.internal_event_by_pda(event_pda text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e eventsvc.events;
BEGIN
    PERFORM eventsvc.require_service('look up events by blockchain PDA');
    IF event_pda IS NULL OR event_pda !~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$' THEN
        RAISE EXCEPTION 'event_pda must be a base58 Solana address of 32 to 44 characters' USING ERRCODE = '22023';
    END IF;
    -- a PDA names one on-chain account; if two rows claimed it, refuse rather than guess
    SELECT * INTO e FROM eventsvc.events x
     WHERE x.event_pda = internal_event_by_pda.event_pda AND x.deleted_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no event has PDA %', event_pda USING ERRCODE = 'PT404';
    END IF;
    RETURN eventsvc.internal_event_document(e);
EXCEPTION
    WHEN too_many_rows THEN
        RAISE EXCEPTION 'more than one event has PDA %', event_pda USING ERRCODE = 'PT409';
END
$$;
COMMENT ON FUNCTION api.internal_event_by_pda(text) IS
    'Service role: the event whose on-chain account is event_pda (GET /rpc/internal_event_by_pda?event_pda=...).';

-- What the scanning service needs at the door: the event, its times, and how many
-- seats are sold (tickets to expect), reserved and still available, live.
CREATE FUNCTION api.internal_scan_stats(event_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e eventsvc.events;
    result jsonb;
BEGIN
    PERFORM eventsvc.require_service('read scan stats');
    SELECT * INTO e FROM eventsvc.events x WHERE x.id = internal_scan_stats.event_id AND x.deleted_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'event % not found', internal_scan_stats.event_id USING ERRCODE = 'PT404';
    END IF;
    SELECT jsonb_build_object(
               'event_id', e.id, 'tenant_id', e.tenant_id, 'venue_id', e.venue_id, 'name', e.name,
               'status', e.status, 'starts_at', e.starts_at, 'ends_at', e.ends_at, 'doors_open', e.doors_open,
               'sections', count(s.*),
               'total_capacity', coalesce(sum(s.total_capacity), 0),
               'tickets_sold', coalesce(sum(s.sold), 0),
               'reserved', coalesce(sum(s.reserved), 0),
               'available', coalesce(sum(s.available), 0))
      INTO result
      FROM api.section_availability s
     WHERE s.tenant_id = e.tenant_id AND s.event_id = e.id;
    RETURN result;
END
$$;
COMMENT ON FUNCTION api.internal_scan_stats(uuid) IS
    'Service role: sold/reserved/available seats of an event for the scanning service (GET /rpc/internal_scan_stats?event_id=...).';

-- blockchain-service's callback (PUT /internal/events/{id}/blockchain-status).
-- Idempotent: the same report twice changes nothing the second time. A synced
-- event keeps its PDA: a different one is a conflict, not an overwrite.
CREATE FUNCTION api.update_blockchain_status(event_id uuid, status text, event_pda text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    e eventsvc.events;
    new_status eventsvc.blockchain_status;
BEGIN
    PERFORM eventsvc.require_service('report blockchain status');
    IF status IS NULL OR status NOT IN ('pending', 'queued', 'synced', 'failed') THEN
        RAISE EXCEPTION 'status must be pending, queued, synced or failed' USING ERRCODE = '22023',
              DETAIL = format('Got %s.', coalesce(quote_literal(status), 'null'));
    END IF;
    new_status := status::eventsvc.blockchain_status;
    IF event_pda IS NOT NULL AND event_pda !~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$' THEN
        RAISE EXCEPTION 'event_pda must be a base58 Solana address of 32 to 44 characters' USING ERRCODE = '22023';
    END IF;
    IF new_status = 'synced' AND event_pda IS NULL THEN
        RAISE EXCEPTION 'a synced event needs its event_pda' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO e FROM eventsvc.events x WHERE x.id = update_blockchain_status.event_id AND x.deleted_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'event % not found', update_blockchain_status.event_id USING ERRCODE = 'PT404';
    END IF;
    IF e.blockchain_status = 'synced' AND e.event_pda IS NOT NULL
       AND (new_status <> 'synced' OR event_pda IS DISTINCT FROM e.event_pda) THEN
        RAISE EXCEPTION 'event % is already synced with PDA %', e.id, e.event_pda USING ERRCODE = 'PT409',
              HINT = 'A synced event keeps its on-chain account; fix the blockchain side instead.';
    END IF;
    IF e.blockchain_status IS DISTINCT FROM new_status OR e.event_pda IS DISTINCT FROM coalesce(event_pda, e.event_pda) THEN
        UPDATE eventsvc.events x
           SET blockchain_status = new_status,
               event_pda = coalesce(update_blockchain_status.event_pda, x.event_pda),
               updated_by = eventsvc.current_actor()
         WHERE x.tenant_id = e.tenant_id AND x.id = e.id
        RETURNING * INTO e;
    END IF;
    RETURN jsonb_build_object('event_id', e.id, 'tenant_id', e.tenant_id, 'blockchain_status', e.blockchain_status,
                              'event_pda', e.event_pda, 'version', e.version);
END
$$;
COMMENT ON FUNCTION api.update_blockchain_status(uuid, text, text) IS
    'Service role: blockchain-service reports an event''s on-chain status and PDA (POST /rpc/update_blockchain_status).';

REVOKE ALL ON FUNCTION eventsvc.require_service(text), eventsvc.internal_event_document(eventsvc.events),
                       api.internal_event(uuid), api.internal_event_by_pda(text), api.internal_scan_stats(uuid),
                       api.update_blockchain_status(uuid, text, text)
    FROM PUBLIC;
-- Two locks: only the service role may execute these, and each one checks the
-- caller again (eventsvc.require_service) in case a grant is ever widened.
GRANT EXECUTE ON FUNCTION api.internal_event(uuid), api.internal_event_by_pda(text), api.internal_scan_stats(uuid),
                          api.update_blockchain_status(uuid, text, text)
    TO eventsvc_service;
GRANT EXECUTE ON FUNCTION eventsvc.require_service(text) TO eventsvc_anon, eventsvc_user, eventsvc_service;
-- Part 66: health checks PostgREST serves to anyone (load balancers, orchestrators).
-- Liveness: the database answers. Readiness: the installed schema is the one this
-- script creates, the worker runs, the outbox is not lagging and the broker was
-- reachable when the worker last tried. Not ready is an error PT503, so HTTP
-- callers get status 503 with the failing checks in the detail.
-- See docs/discovery.md "Health".

CREATE FUNCTION api.health_live() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('status', 'ok', 'time', now())
$$;
COMMENT ON FUNCTION api.health_live() IS 'Liveness: the database answers (GET /rpc/health_live).';

-- The checks as one JSON object; also for dashboards that want to see them all.
-- Definer: reads the outbox and the worker's shared-memory status, which the
-- anonymous role has no right to; it returns only counts, ages and booleans.
CREATE FUNCTION eventsvc.health_checks() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    installed   text;
    expected    text := '1.0';    -- the version this install script belongs to
    worker      record;
    worker_ok   boolean := false;
    broker_ok   boolean := false;
    oldest_age  interval;
    -- pg_settings gives the value in seconds (current_setting would say '1min')
    max_lag     integer := coalesce((SELECT s.setting::integer FROM pg_settings s
                                      WHERE s.name = 'eventsvc.ready_max_outbox_lag_seconds'), 60);
    lag_ok      boolean;
BEGIN
    SELECT x.extversion INTO installed FROM pg_extension x WHERE x.extname = 'eventsvc';

    -- The worker publishes its state in shared memory (part 50); when that
    -- function is missing, fall back to looking for its backend.
    IF to_regprocedure('eventsvc.worker_shmem_status()') IS NOT NULL THEN
        EXECUTE 'SELECT running, broker_connected FROM eventsvc.worker_shmem_status()' INTO worker;
        worker_ok := coalesce(worker.running, false);
        broker_ok := coalesce(worker.broker_connected, false);
    ELSE
        worker_ok := EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.backend_type LIKE 'eventsvc%');
    END IF;

    SELECT now() - min(o.created_at) INTO oldest_age FROM eventsvc.outbox o WHERE o.state = 'pending';
    lag_ok := oldest_age IS NULL OR oldest_age <= make_interval(secs => max_lag);

    RETURN jsonb_build_object(
        'ready', installed IS NOT DISTINCT FROM expected AND worker_ok AND lag_ok AND broker_ok,
        'checks', jsonb_build_object(
            'schema', jsonb_build_object('ok', installed IS NOT DISTINCT FROM expected,
                                         'installed', installed, 'expected', expected),
            'worker', jsonb_build_object('ok', worker_ok),
            'outbox', jsonb_build_object('ok', lag_ok,
                                         'oldest_pending_seconds', floor(extract(epoch FROM coalesce(oldest_age, interval '0'))),
                                         'max_lag_seconds', max_lag),
            'broker', jsonb_build_object('ok', broker_ok)),
        'time', now());
END
$$;

CREATE FUNCTION api.health_ready() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h jsonb := eventsvc.health_checks();
BEGIN
    IF NOT (h ->> 'ready')::boolean THEN
        RAISE EXCEPTION 'eventsvc is not ready'
            USING ERRCODE = 'PT503',
                  DETAIL = (h -> 'checks')::text,
                  HINT = 'See the failing checks; docs/operations.md describes the worker and the broker.';
    END IF;
    RETURN h;
END
$$;
COMMENT ON FUNCTION api.health_ready() IS
    'Readiness: schema version, worker running, outbox lag under eventsvc.ready_max_outbox_lag_seconds, broker reachable; 503 (PT503) when not (GET /rpc/health_ready).';

REVOKE ALL ON FUNCTION api.health_live(), eventsvc.health_checks(), api.health_ready() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.health_live(), eventsvc.health_checks(), api.health_ready()
    TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
-- Part 70: the HTTP surface's authentication checks, run by PostgREST before every
-- request (db-pre-request = "eventsvc.check_request"): revoked tokens by jti, and the
-- tenant of tenant-scoped tokens. See docs/postgrest.md.

-- Revoked tokens, keyed by jti alone: the auth service issues tokens for the whole
-- platform and a jti is unique across tenants, so a revocation is global. A row is
-- kept until the token would have expired anyway; after that the signature check
-- refuses the token and the row is only clutter (eventsvc.purge_revoked_tokens()).
-- No API role has any right on this table: it is read and written only through the
-- SECURITY DEFINER functions below. RLS is forced with no policy as a second lock.
CREATE TABLE eventsvc.revoked_tokens (
    jti         text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 255),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    revoked_by  text
);
CREATE INDEX idx_revoked_tokens_expires ON eventsvc.revoked_tokens (expires_at);
ALTER TABLE eventsvc.revoked_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventsvc.revoked_tokens FORCE ROW LEVEL SECURITY;
COMMENT ON TABLE eventsvc.revoked_tokens IS
    'JWT ids revoked by the auth service (api.revoke_token); refused by eventsvc.check_request until expires_at.';

-- Is this jti revoked and not yet past its expiry? Definer: the caller has no
-- right on the table and must not be given one (it would list every revoked jti).
CREATE FUNCTION eventsvc.token_is_revoked(p_jti text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM eventsvc.revoked_tokens r
                    WHERE r.jti = p_jti AND r.expires_at > eventsvc.now())
$$;

-- PostgREST's db-pre-request: runs as the role of the token (or eventsvc_anon),
-- after request.jwt.claims is set and before the query. Invoker rights on purpose:
-- the tenant check below must see the caller's role, not the owner's.
CREATE FUNCTION eventsvc.check_request() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    raw    text := current_setting('request.jwt.claims', true);
    claims jsonb;
BEGIN
    IF raw IS NULL OR raw = '' THEN
        RETURN;     -- a trusted SQL client, not PostgREST
    END IF;
    claims := raw::jsonb;
    IF jsonb_typeof(claims) <> 'object' THEN
        RAISE EXCEPTION 'the token claims are not a JSON object'
            USING ERRCODE = 'PT401', HINT = 'Sign in again to get a new token.';
    END IF;

    IF claims ? 'jti' AND eventsvc.token_is_revoked(claims ->> 'jti') THEN
        RAISE EXCEPTION 'this token has been revoked'
            USING ERRCODE = 'PT401',
                  DETAIL = format('Token id (jti) %s was revoked by the auth service.', claims ->> 'jti'),
                  HINT = 'Sign in again to get a new token.';
    END IF;

    -- Tenant users and admins always act for one tenant: their token must name an
    -- existing, active one. Other roles (service) are checked when they name one.
    -- eventsvc.current_tenant_id() raises 42501 (403) with the reason.
    IF claims ? 'tenant_id' OR pg_catalog.pg_has_role(current_user, 'eventsvc_user', 'MEMBER') THEN
        PERFORM eventsvc.current_tenant_id();
    END IF;
END
$$;
COMMENT ON FUNCTION eventsvc.check_request() IS
    'PostgREST db-pre-request: refuses revoked tokens (PT401) and tokens whose tenant is missing, unknown or inactive (42501).';

-- The auth service revokes a token (logout, password change, compromise). Service
-- role only. Idempotent: revoking again keeps the later expiry.
CREATE FUNCTION api.revoke_token(jti text, expires_at timestamptz) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rec eventsvc.revoked_tokens;
BEGIN
    IF jti IS NULL OR length(jti) NOT BETWEEN 1 AND 255 THEN
        RAISE EXCEPTION 'jti must be a token id of 1 to 255 characters'
            USING ERRCODE = '22023', DETAIL = format('Got %s.', coalesce(quote_literal(left(jti, 40)), 'null')),
                  HINT = 'Pass the jti claim of the token to revoke.';
    END IF;
    IF expires_at IS NULL THEN
        RAISE EXCEPTION 'expires_at is required'
            USING ERRCODE = '22023',
                  HINT = 'Pass the exp claim of the token as a timestamp, e.g. "2030-01-01T00:00:00Z".';
    END IF;
    INSERT INTO eventsvc.revoked_tokens AS r (jti, expires_at, revoked_by)
    VALUES (revoke_token.jti, revoke_token.expires_at, eventsvc.current_actor())
    ON CONFLICT ON CONSTRAINT revoked_tokens_pkey
        DO UPDATE SET expires_at = greatest(r.expires_at, excluded.expires_at)
    RETURNING * INTO rec;
    RETURN jsonb_build_object('jti', rec.jti, 'revoked', true, 'expires_at', rec.expires_at,
                              'revoked_at', rec.revoked_at);
END
$$;
COMMENT ON FUNCTION api.revoke_token(text, timestamptz) IS
    'Service role: revoke a token by jti until expires_at (POST /rpc/revoke_token).';

-- The original's GET /internal/token-status/{jti}: service role only.
CREATE FUNCTION api.token_status(jti text) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('jti', token_status.jti,
                              'revoked', r.jti IS NOT NULL AND r.expires_at > eventsvc.now(),
                              'expires_at', r.expires_at)
      FROM (SELECT 1) AS one
      LEFT JOIN eventsvc.revoked_tokens r ON r.jti = token_status.jti
$$;
COMMENT ON FUNCTION api.token_status(text) IS
    'Service role: is this jti revoked? (GET /rpc/token_status?jti=...)';

-- Rows whose token has expired anyway; run it from pg_cron or the service.
CREATE FUNCTION eventsvc.purge_revoked_tokens() RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (DELETE FROM eventsvc.revoked_tokens WHERE expires_at <= eventsvc.now() RETURNING 1)
    SELECT count(*)::integer FROM gone
$$;

-- PostgREST runs the pre-request for anonymous requests too, as eventsvc_anon:
-- it needs the schema (only to resolve the function; anon has no table rights).
GRANT USAGE ON SCHEMA eventsvc TO eventsvc_anon;
REVOKE ALL ON FUNCTION eventsvc.token_is_revoked(text), eventsvc.check_request(),
                       api.revoke_token(text, timestamptz), api.token_status(text),
                       eventsvc.purge_revoked_tokens() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventsvc.check_request(), eventsvc.token_is_revoked(text)
    TO eventsvc_anon, eventsvc_user, eventsvc_service;
GRANT EXECUTE ON FUNCTION api.revoke_token(text, timestamptz), api.token_status(text)
    TO eventsvc_service;
GRANT EXECUTE ON FUNCTION eventsvc.purge_revoked_tokens() TO eventsvc_service, eventsvc_worker;
-- Part 71: the public catalogue, what anyone may see without signing in: PUBLIC,
-- non-deleted events in a published state of active tenants, with their public
-- columns only (the same rule as eventsvc.event_is_visible(NULL, e) in part 60).
--
-- This view is deliberately NOT security_invoker: the anonymous role has no tenant
-- and no right on eventsvc.events, so the view reads as its owner (the extension
-- owner, a superuser, which RLS does not apply to) and its WHERE clause is the
-- whole access rule. Every column added here is published to the world: no
-- wallets, royalty splits, chain data, stream URLs, authors or versions.
CREATE VIEW api.public_events AS
SELECT e.id,
       e.tenant_id,
       e.venue_id,
       v.name              AS venue_name,
       e.name,
       e.slug,
       e.short_description,
       e.description,
       e.status,
       e.event_type,
       e.primary_category_id,
       c.slug              AS category,
       e.tags,
       e.starts_at,
       e.ends_at,
       e.doors_open,
       e.timezone,
       e.is_virtual,
       e.is_hybrid,
       e.image_url,
       e.is_featured,
       e.featured_order,
       e.age_restriction
  FROM eventsvc.events e
  JOIN eventsvc.tenants t ON t.id = e.tenant_id AND t.is_active
  JOIN eventsvc.venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id
  LEFT JOIN eventsvc.event_categories c ON c.id = e.primary_category_id
 WHERE e.visibility = 'PUBLIC'
   AND e.deleted_at IS NULL
   AND e.status IN ('PUBLISHED', 'ON_SALE', 'SALES_PAUSED', 'SOLD_OUT',
                    'IN_PROGRESS', 'POSTPONED', 'RESCHEDULED');
COMMENT ON VIEW api.public_events IS
    'Public catalogue (GET /public_events): published, PUBLIC, non-deleted events of every tenant; filter by tenant_id.';

GRANT SELECT ON api.public_events TO eventsvc_anon, eventsvc_user, eventsvc_service;
-- Part 79: last touches of the HTTP surface, after every api object exists.

-- A view PostgreSQL cannot update automatically (joins, aggregates) answers a PATCH,
-- POST or DELETE from PostgREST with 55000, which PostgREST turns into HTTP 500.
-- An INSTEAD OF trigger makes the rewriter accept the statement, so the privilege
-- check runs first (42501: 401 without a token, 403 with one) and, for a caller
-- who does hold the privilege, the trigger refuses with a clear message. Views that
-- are automatically updatable are left alone: their grants decide.
CREATE FUNCTION eventsvc.refuse_view_write() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '%.% is read-only', TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = '42501',
              HINT = 'Change data through the api functions (POST /rpc/...), not through the view.';
END
$$;
REVOKE ALL ON FUNCTION eventsvc.refuse_view_write() FROM PUBLIC;

DO $views$
DECLARE
    v regclass;
BEGIN
    FOR v IN
        SELECT c.oid::regclass FROM pg_class c
         WHERE c.relnamespace = 'api'::regnamespace AND c.relkind = 'v'
           AND pg_relation_is_updatable(c.oid, false) = 0
           AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid)
         ORDER BY c.relname
    LOOP
        EXECUTE format('CREATE TRIGGER refuse_write INSTEAD OF INSERT OR UPDATE OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION eventsvc.refuse_view_write()', v);
    END LOOP;
END
$views$;

-- Tell a running PostgREST to reload its schema cache. NOTIFY is delivered when the
-- installing transaction commits, so the cache sees every part of the install;
-- without a listener it does nothing.
NOTIFY pgrst, 'reload schema';
-- Part 99: grants, last, so that every object created by earlier parts is covered.
-- Nothing is granted to PUBLIC; each role gets what its job needs.

REVOKE ALL ON ALL TABLES IN SCHEMA eventsvc, api FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA eventsvc, api FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA eventsvc, api FROM PUBLIC;

-- Reference data, readable by everyone who can use the API.
GRANT SELECT ON eventsvc.event_categories, eventsvc.currencies
    TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;

-- Tenant data: RLS decides which rows; these grants decide which commands.
GRANT SELECT ON eventsvc.tenants, eventsvc.venues, eventsvc.events, eventsvc.event_schedules,
                eventsvc.event_capacity, eventsvc.event_pricing, eventsvc.event_metadata,
                eventsvc.event_audit_log, eventsvc.event_cancellation_reports,
                eventsvc.cancellation_steps, eventsvc.capacity_holds, eventsvc.outbox,
                eventsvc.event_content, eventsvc.event_faqs, eventsvc.event_reviews
    TO eventsvc_user, eventsvc_service;
GRANT INSERT, UPDATE, DELETE ON eventsvc.events, eventsvc.event_schedules, eventsvc.event_capacity,
                eventsvc.event_pricing, eventsvc.event_metadata, eventsvc.event_content,
                eventsvc.event_faqs, eventsvc.event_reviews
    TO eventsvc_user;
GRANT INSERT, UPDATE ON eventsvc.venues TO eventsvc_service;

-- Functions every API role may call (RLS policies and API functions call them).
GRANT EXECUTE ON FUNCTION eventsvc.now(), eventsvc.current_tenant_id(), eventsvc.current_actor(),
                          eventsvc.is_tenant_admin()
    TO eventsvc_anon, eventsvc_user, eventsvc_service, eventsvc_worker;
