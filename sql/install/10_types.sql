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
    parent_id     uuid,                 -- another category: kept by a trigger (part 90), not a foreign key
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
-- The seeded rows have fixed ids (ca7e9000-0000-4000-8000-0000000000xx, a range kept
-- for them), the same in every database: events that name one survive a dump and a
-- restore, where the restore's CREATE EXTENSION seeds them again (part 90).
INSERT INTO eventsvc.event_categories (id, name, slug, description, icon, color, display_order)
SELECT ('ca7e9000-0000-4000-8000-0000000000' || v.n)::uuid, v.name, v.slug, v.description, v.icon, v.color, v.ord
  FROM (VALUES
    ('01', 'Music',        'music',        'Concerts, festivals and live music', 'music',   '#E91E63', 1),
    ('02', 'Sports',       'sports',       'Games, matches and tournaments',      'trophy',  '#4CAF50', 2),
    ('03', 'Theater',      'theater',      'Plays, musicals and opera',           'theater', '#9C27B0', 3),
    ('04', 'Comedy',       'comedy',       'Stand-up and comedy shows',           'smile',   '#FF9800', 4),
    ('05', 'Arts',         'arts',         'Exhibitions, galleries and culture',  'palette', '#3F51B5', 5),
    ('06', 'Conference',   'conference',   'Conferences, talks and seminars',     'mic',     '#607D8B', 6),
    ('07', 'Workshop',     'workshop',     'Classes and hands-on workshops',      'tool',    '#795548', 7),
    ('08', 'Festival',     'festival',     'Multi-day festivals',                 'flag',    '#FF5722', 8),
    ('09', 'Family',       'family',       'Family and kids events',              'heart',   '#00BCD4', 9),
    ('10', 'Nightlife',    'nightlife',    'Clubs and parties',                   'moon',    '#673AB7', 10),
    ('11', 'Other',        'other',        'Everything else',                     'star',    '#9E9E9E', 99))
    AS v(n, name, slug, description, icon, color, ord);
INSERT INTO eventsvc.event_categories (id, parent_id, name, slug, description, display_order)
SELECT ('ca7e9000-0000-4000-8000-0000000000' || v.n)::uuid, c.id, v.name, v.slug, v.description, v.ord
  FROM (VALUES ('21', 'music', 'Rock', 'rock', 'Rock and alternative', 1),
               ('22', 'music', 'Jazz', 'jazz', 'Jazz and blues', 2),
               ('23', 'music', 'Classical', 'classical', 'Orchestral and chamber music', 3),
               ('24', 'music', 'Electronic', 'electronic', 'Electronic and dance', 4),
               ('25', 'sports', 'Football', 'football', 'Football and soccer', 1),
               ('26', 'sports', 'Basketball', 'basketball', 'Basketball', 2)) AS v(n, parent, name, slug, description, ord)
  JOIN eventsvc.event_categories c ON c.slug = v.parent;
