/*
 * procstat.h: what the load generators read of a process and of the
 * machine from /proc, to put CPU and memory beside their figures.
 *
 * A process that is gone reads as -1; a /proc file that cannot be parsed
 * ends the program with a message (the figures would be wrong).
 */
#ifndef BENCH_PROCSTAT_H
#define BENCH_PROCSTAT_H

/* utime + stime of a process, in seconds; -1 when it is gone. */
double	 bench_cpu_of(long pid);
/*
 * CPU seconds the whole machine was busy (every core, idle and iowait
 * left out), from /proc/stat: what is not the server's or the generator's
 * is other processes and the kernel's interrupt work, which tells whether
 * the figures were disturbed.
 */
double	 bench_cpu_machine(void);
/* A field of /proc/PID/status in KiB ("VmRSS", "VmHWM"); -1 when unknown. */
long	 bench_status_kb(long pid, const char *field);

#endif
