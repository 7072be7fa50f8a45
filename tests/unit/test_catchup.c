/* catchup.c: WAL segment names and headers, and where a standby's own WAL
 * says it will stream from. */
#include "catchup.h"
#include "check.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG (16u << 20)
#define BLCKSZ 8192u
#define SYSID 7714929122537099274ull

/* The long header of a segment's first page, as PostgreSQL 15 writes it. */
static void long_header(unsigned char *buf, uint64_t pageaddr, uint64_t sysid)
{
    uint16_t magic = 0xD110, info = 0x0002;
    uint32_t tli = 1, seg = SEG, blcksz = BLCKSZ;

    memset(buf, 0, 40);
    memcpy(buf, &magic, 2);
    memcpy(buf + 2, &info, 2);
    memcpy(buf + 4, &tli, 4);
    memcpy(buf + 8, &pageaddr, 8);
    memcpy(buf + 24, &sysid, 8);
    memcpy(buf + 32, &seg, 4);
    memcpy(buf + 36, &blcksz, 4);
}

static void test_names_and_headers(void)
{
    uint32_t tli;
    uint64_t segno;
    unsigned char h[40];

    CHECK(catchup_parse_walname("000000010000000000000005", SEG, &tli, &segno) == 0);
    CHECK(tli == 1 && segno == 5);
    CHECK(catchup_parse_walname("00000002000000030000000A", SEG, &tli, &segno) == 0);
    CHECK(tli == 2 && segno == 3 * 256 + 10);
    CHECK(catchup_parse_walname("000000010000000000000100", SEG, &tli, &segno) < 0);
    CHECK(catchup_parse_walname("000000010000000000000005.partial", SEG, &tli, &segno) < 0);
    CHECK(catchup_parse_walname("00000001000000000000000a", SEG, &tli, &segno) < 0);
    CHECK(catchup_parse_walname("000000010000000000000005", 12345, &tli, &segno) < 0);

    long_header(h, 5ull * SEG, SYSID);
    CHECK(catchup_segment_size(h, sizeof(h), SYSID, 5ull * SEG) == SEG);
    CHECK(catchup_segment_size(h, sizeof(h), SYSID + 1, 5ull * SEG) == 0); /* another system */
    CHECK(catchup_segment_size(h, sizeof(h), SYSID, 7ull * SEG) == 0);     /* a recycled file */
    CHECK(catchup_segment_size(h, 30, SYSID, 5ull * SEG) == 0);
    memset(h, 0, sizeof(h)); /* preallocated */
    CHECK(catchup_segment_size(h, sizeof(h), 0, 0) == 0);

    char lsn[32];
    catchup_lsn(0x100000D8ull | (2ull << 32), lsn, sizeof(lsn));
    CHECK_STR(lsn, "2/100000D8");
}

static void write_segment(const char *dir, const char *name, uint64_t pageaddr, bool last_page)
{
    char path[512];
    unsigned char h[40];

    snprintf(path, sizeof(path), "%s/pg_wal/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, SEG) == 0);
    if (pageaddr) {
        long_header(h, pageaddr, SYSID);
        CHECK(pwrite(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h));
    }
    if (last_page) {
        uint64_t addr = pageaddr + SEG - BLCKSZ;
        memset(h, 0, sizeof(h));
        memcpy(h + 8, &addr, 8);
        CHECK(pwrite(fd, h, 24, SEG - BLCKSZ) == 24);
    }
    close(fd);
}

static void test_local_need(void)
{
    char dir[] = "/tmp/test_catchup.XXXXXX", sub[64];
    struct pg_control pc = {.system_identifier = SYSID, .redo = 4ull * SEG + 0x28, .redo_tli = 1};
    struct catchup c = {0};

    CHECK(mkdtemp(dir) != NULL);
    /* no pg_wal: the restart point */
    catchup_local_need(dir, &pc, &c);
    CHECK(c.need == 4ull * SEG + 0x28 && c.tli == 1);

    snprintf(sub, sizeof(sub), "%s/pg_wal", dir);
    CHECK(mkdir(sub, 0700) == 0);
    write_segment(dir, "000000010000000000000004", 4ull * SEG, true);
    write_segment(dir, "000000010000000000000005", 5ull * SEG, false);
    write_segment(dir, "000000010000000000000007", 2ull * SEG, true); /* recycled */
    write_segment(dir, "000000010000000000000008", 0, false);         /* preallocated */
    catchup_local_need(dir, &pc, &c);
    CHECK(c.need == 5ull * SEG);

    /* segment 5 received to its last page: the next one is asked for */
    write_segment(dir, "000000010000000000000005", 5ull * SEG, true);
    catchup_local_need(dir, &pc, &c);
    CHECK(c.need == 6ull * SEG);

    /* another system's segment does not count */
    pc.system_identifier = SYSID + 1;
    catchup_local_need(dir, &pc, &c);
    CHECK(c.need == 4ull * SEG + 0x28);

    const char *names[] = {"000000010000000000000004", "000000010000000000000005",
                           "000000010000000000000007", "000000010000000000000008"};
    for (size_t i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", sub, names[i]);
        unlink(path);
    }
    rmdir(sub);
    rmdir(dir);
}

int main(void)
{
    test_names_and_headers();
    test_local_need();
    return check_done("test_catchup");
}
