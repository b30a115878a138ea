/*
 * spi.c: small SPI helpers every area shares; errors are raised, never returned.
 */
#include "core/core.h"

#include "utils/builtins.h"
#include "utils/uuid.h"

void
evs_cap_spi_connect(void)
{
	int			rc = SPI_connect();

	if (rc != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
}

SPIPlanPtr
evs_cap_prepare_kept(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

	if (p == NULL || SPI_keepplan(p) != 0)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	return p;
}

char *
evs_uuid_text(Datum d)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, d));
}
