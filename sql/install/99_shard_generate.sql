-- Part 99 (last): one shard entry function per api function and view, made from the
-- catalog as it stands at the end of this script (part 80, docs/scale-out.md). Runs
-- last so that it sees every api function and view of every part before it.
SELECT eventsvc.shard_generate_entries();
