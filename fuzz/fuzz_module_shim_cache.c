/* fuzz_module_shim_cache.c - mod_shmcache/sc_cache.c as it is (it exports
 * sc_parse_size, sc_cache_defaults and sc_check_dir itself). */
#include "../mod_shmcache/sc_cache.c"
#include "../mod_shmcache/sc_perms_unix.c"
