/*
 * search_rank.c: the relevance api.search_events orders by. It is exactly
 * ts_rank_cd(document, query) (default weights {D 0.1, C 0.2, B 0.4, A 1.0}, no
 * normalization): the same float4 for every document and query.
 *
 * A search ranks every matching document before it keeps a page (3,700 to 9,000
 * documents for a common word at the default scale of bench/scale_run), and
 * PostgreSQL's ts_rank_cd zeroes a 32 kB work area per call (one position array
 * of 16,384 entries per query operand) before it looks at the document: most of
 * the ranking's cost for a small document. For a query of one word (no weight
 * restriction, no prefix), the hot case of a public search, the cover density
 * of ts_rank_cd reduces to this: every position of the word in the document is
 * a cover of its own (one position, no noise word), worth the inverse of the
 * inverse of its weight; the rank is their sum, in position order, in double
 * precision, then rounded to float4. That is computed here with the same
 * operations in the same order, so the result is the same bits. Any other query,
 * and any document whose positions are not the strictly increasing, non-zero
 * ones every SQL-level constructor makes (a binary input may start at position
 * 0, where ts_rank_cd finds no cover at all), goes to ts_rank_cd itself.
 * test/discovery_search_rank.sql compares the two on generated documents and
 * queries and on hand-made edge cases, binary input included.
 *
 * The one-word path uses no SPI and allocates nothing but detoasted arguments;
 * its loop over positions runs at most MAXNUMPOS (256) times, the most a tsvector
 * keeps per lexeme, so it has no interrupt check of its own (the executor checks
 * between rows).
 */
#include "core/core.h"

#include "tsearch/ts_type.h"
#include "tsearch/ts_utils.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(evs_sql_search_rank);

/* ts_rank_cd's default weights, by WEP_GETWEIGHT (0 = D ... 3 = A). */
static const float4 rank_weights[4] = {0.1f, 0.2f, 0.4f, 1.0f};

/*
 * The document's entry of the lexeme, or NULL: the binary search ts_rank_cd
 * does (tsvector entries are sorted by tsCompareString), with the same midpoints,
 * so that a document holding a lexeme twice (possible from binary input) yields
 * the same one of them.
 */
static WordEntry *
find_lexeme(TSVector doc, const char *lexeme, int len)
{
	WordEntry  *entries = ARRPTR(doc);
	char	   *strings = STRPTR(doc);
	int			lo = 0;
	int			hi = doc->size;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			cmp = tsCompareString((char *) lexeme, len, strings + entries[mid].pos,
										  entries[mid].len, false);

		if (cmp == 0)
			return &entries[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * ts_rank_cd of a one-word query into *rank: the sum over the word's positions
 * of 1 / (1 / weight), as calc_rank_cd computes a one-position cover (Cpos =
 * 1 / InvSum, divided by 1 + 0 noise words). False when the document is one it
 * must be left to ts_rank_cd for.
 */
static bool
one_word_rank(TSVector doc, TSQuery query, float4 *rank)
{
	QueryOperand *word = &GETQUERY(query)->qoperand;
	WordEntry  *entry = find_lexeme(doc, GETOPERAND(query) + word->distance, word->length);
	double		inverse[4];
	double		sum = 0.0;
	WordEntryPos *positions;
	int			n;

	*rank = 0.0f;
	if (entry == NULL || !entry->haspos)
		return true;			/* ts_rank_cd ignores words without positions */
	for (int i = 0; i < 4; i++)
		inverse[i] = 1.0 / (double) rank_weights[i];
	positions = POSDATAPTR(doc, entry);
	n = POSDATALEN(doc, entry);
	for (int i = 0; i < n; i++)
	{
		double		inverse_sum = 0.0;

		/*
		 * ts_rank_cd sums the covers in position order, and a cover must end
		 * past position 0 (its search for covers stops at a position 0). A
		 * position 0 (binary input can store one first) and positions out of
		 * order or twice (no constructor stores these) are left to it.
		 */
		if (i == 0 ? WEP_GETPOS(positions[i]) == 0
			: WEP_GETPOS(positions[i]) <= WEP_GETPOS(positions[i - 1]))
			return false;
		inverse_sum += inverse[WEP_GETWEIGHT(positions[i])];
		sum += (1.0 / inverse_sum) / (double) (1 + 0);
	}
	*rank = (float4) sum;
	return true;
}

/* The query is one word that any weight matches, not a prefix. */
static bool
is_one_word(TSQuery query)
{
	QueryItem  *item;

	if (query->size != 1)
		return false;
	item = GETQUERY(query);
	return item->type == QI_VAL && item->qoperand.weight == 0 && !item->qoperand.prefix;
}

/* eventsvc.search_rank(document tsvector, query tsquery) RETURNS real (STRICT) */
Datum
evs_sql_search_rank(PG_FUNCTION_ARGS)
{
	TSVector	doc;
	TSQuery		query = PG_GETARG_TSQUERY(1);
	float4		rank;

	if (!is_one_word(query))
		return DirectFunctionCall2(ts_rankcd_tt, PG_GETARG_DATUM(0), PointerGetDatum(query));
	doc = PG_GETARG_TSVECTOR(0);
	if (!one_word_rank(doc, query, &rank))
		return DirectFunctionCall2(ts_rankcd_tt, PointerGetDatum(doc), PointerGetDatum(query));
	PG_FREE_IF_COPY(doc, 0);
	PG_FREE_IF_COPY(query, 1);
	PG_RETURN_FLOAT4(rank);
}
