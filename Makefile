# eventsvc: PGXS build. The install script is assembled from sql/install/*.sql.
EXTENSION   = eventsvc
EXTVERSION  = 1.0
MODULE_big  = eventsvc
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA_built  = eventsvc--$(EXTVERSION).sql
REGRESS     = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=btree_gist --load-extension=eventsvc
ISOLATION   = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=btree_gist --load-extension=eventsvc
PG_CPPFLAGS = -Isrc -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror=implicit-function-declaration
SHLIB_LINK  = -lcurl -lrabbitmq -lcrypto
EXTRA_CLEAN = results regression.diffs regression.out output_iso

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

eventsvc--$(EXTVERSION).sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@
