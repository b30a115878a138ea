# eventsvc: PGXS build. The C sources are src/eventsvc.c and one folder per
# area (src/core, src/lifecycle, src/capacity, src/worker, src/discovery);
# headers are included by their path under src/. The install script of the current version is assembled from
# sql/install/*.sql, each upgrade script from sql/upgrade/<from>--<to>/*.sql; released
# install scripts are frozen in sql/released/.
EXTENSION   = eventsvc
EXTVERSION  = $(shell sed -n "s/^default_version = '\\(.*\\)'/\\1/p" eventsvc.control)
MODULE_big  = eventsvc
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))
UPGRADES    = $(patsubst sql/upgrade/%,eventsvc--%.sql,$(wildcard sql/upgrade/*--*))
DATA        = $(sort $(wildcard sql/released/*.sql))
DATA_built  = eventsvc--$(EXTVERSION).sql $(UPGRADES)
REGRESS     = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=btree_gist --load-extension=eventsvc
ISOLATION   = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=btree_gist --load-extension=eventsvc
PG_CPPFLAGS = -Isrc -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror=implicit-function-declaration
# the library knows the schema version it serves (src/core/version.c)
PG_CPPFLAGS += -DEVS_LIBRARY_VERSION='"$(EXTVERSION)"'
SHLIB_LINK  = -lcurl -lrabbitmq -lcrypto
EXTRA_CLEAN = results regression.diffs regression.out output_iso

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

src/core/version.o: eventsvc.control

eventsvc--$(EXTVERSION).sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

.SECONDEXPANSION:
$(UPGRADES): eventsvc--%.sql: $$(sort $$(wildcard sql/upgrade/$$*/*.sql))
	cat $^ > $@
