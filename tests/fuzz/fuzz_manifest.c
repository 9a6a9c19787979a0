/* fuzz_manifest.c - the manifest's version-edit decoder on arbitrary bytes, and a
   version built from what decodes: an edit or SHALE_ECORRUPT, never a crash. */
#include <stdint.h>

#include "options.h"
#include "version.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    version_edit e;
    if (edit_decode(slice_make((const char *)data, size), &e) != 0)
        return 0;
    static shale_options o;
    static version_set *vs;
    if (!vs) {
        shale_options_default(&o);
        if (version_set_new("/nonexistent-fuzz-dir", &o, &vs))
            return 0;
    }
    bool levels_ok = true;
    for (int i = 0; i < e.n_added; i++)
        levels_ok &= e.added[i].level < o.num_levels;
    version *v = NULL;
    if (levels_ok && version_apply(vs, vs->current, &e, &v) == 0)
        version_unref(v);
    buf out = {0};
    edit_encode(&e, &out);
    buf_free(&out);
    edit_destroy(&e);
    return 0;
}
