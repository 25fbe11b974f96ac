// A C target needs one source of its own; the protocol code comes from the build plugin.
#include "CWayland.h"
