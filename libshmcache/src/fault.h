/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fault.h - named fault points for the crash tests.
 *
 * SC_FAULT_POINT("name") marks an instant at which a test may want a
 * process to die (holding the write lock, in the middle of a set that
 * allocates, half-way through creating a segment, ...). In normal builds it
 * compiles to nothing. In the fault-injection build of the library
 * (SHMCACHE_FAULT_INJECTION, used only by tests), a process whose
 * environment has SHMCACHE_FAULT=name, on reaching that point, appends
 * "name <pid>\n" to the file named by SHMCACHE_FAULT_FILE (if set) and then
 * sleeps forever, so the test can kill it there deterministically.
 * SHMCACHE_FAULT_SKIP=N lets the first N passes through the point go by.
 */
#ifndef SC_FAULT_H
#define SC_FAULT_H

#ifdef SHMCACHE_FAULT_INJECTION
void sc_fault_point(const char *name);
#define SC_FAULT_POINT(name) sc_fault_point(name)
#else
#define SC_FAULT_POINT(name) ((void)0)
#endif

#endif /* SC_FAULT_H */
