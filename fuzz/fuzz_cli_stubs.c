/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_cli_stubs.c - what the CLI's util.c calls but the fuzzed parsers
 * never reach: the second tier (cmd_tier.c, which needs APR-util and the
 * tier library). A fuzz input that got here would be a bug: it says no. */
#include "cli.h"

int cli_tier_open(cli_t *cli)
{
    (void)cli;
    return CLI_ERROR;
}
