-- Part 99: tenant roles read their tenant's rows and write none; every write goes through
-- an api function (docs/tenancy.md "Trust model").
REVOKE INSERT, UPDATE, DELETE ON eventsvc.events, eventsvc.event_schedules, eventsvc.event_capacity,
                eventsvc.event_pricing, eventsvc.event_metadata, eventsvc.event_content,
                eventsvc.event_faqs, eventsvc.event_reviews
    FROM eventsvc_user;
