// libwayland-client and the protocol headers wayland-scanner writes at build time
// (Plugins/WaylandScanner). Swift imports `extern const struct wl_interface x` as a value, but
// wl_registry_bind needs the object's address: hence the accessors.
#include <wayland-client.h>
#include "xdg-shell-client-protocol.h"
#include "presentation-time-client-protocol.h"

static inline const struct wl_interface *cw_compositor_interface(void) { return &wl_compositor_interface; }
static inline const struct wl_interface *cw_shm_interface(void) { return &wl_shm_interface; }
static inline const struct wl_interface *cw_xdg_wm_base_interface(void) { return &xdg_wm_base_interface; }
static inline const struct wl_interface *cw_presentation_interface(void) { return &wp_presentation_interface; }
