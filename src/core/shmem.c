/*
 * shmem.c: the one place eventsvc asks the postmaster for shared memory. A
 * module registers its struct from its init while the library is preloaded;
 * one pair of hooks requests the space of every registered struct and then
 * creates (or, after a crash restart, finds) each in turn.
 */
#include "core/core.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

/* one per module that keeps state in shared memory */
#define SHMEM_STRUCTS_MAX 8

typedef struct ShmemStruct
{
	const char *name;
	Size		(*size) (void);
	void		(*request) (void);
	void		(*attach) (void *ptr, bool found);
} ShmemStruct;

static ShmemStruct structs[SHMEM_STRUCTS_MAX];
static int	nstructs = 0;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
evs_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	for (int i = 0; i < nstructs; i++)
	{
		RequestAddinShmemSpace(MAXALIGN(structs[i].size()));
		if (structs[i].request)
			structs[i].request();
	}
}

static void
evs_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	for (int i = 0; i < nstructs; i++)
	{
		bool		found;
		void	   *ptr = ShmemInitStruct(structs[i].name, structs[i].size(), &found);

		structs[i].attach(ptr, found);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Registers a struct of size() bytes named `name`, from an init running in
 * _PG_init while preloading. request (optional) asks for more (an LWLock
 * tranche, a hash table's space); attach gets the struct, with found false
 * when it is new (after postmaster start or a crash restart): initialise it
 * then. Both run under AddinShmemInitLock in the postmaster.
 */
void
evs_shmem_register(const char *name, Size (*size) (void), void (*request) (void),
				   void (*attach) (void *ptr, bool found))
{
	if (!process_shared_preload_libraries_in_progress || nstructs >= SHMEM_STRUCTS_MAX)
		elog(ERROR, "eventsvc cannot register shared memory \"%s\" now", name);
	if (nstructs == 0)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = evs_shmem_request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = evs_shmem_startup;
	}
	structs[nstructs].name = name;
	structs[nstructs].size = size;
	structs[nstructs].request = request;
	structs[nstructs].attach = attach;
	nstructs++;
}
