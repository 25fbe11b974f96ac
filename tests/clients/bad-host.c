// bad-host: a minimal Wayland compositor (libwayland-server: wl_compositor, wl_shm, xdg_wm_base)
// that misbehaves on purpose, as the host of fakedrm's Wayland display
// (scripts/wayland-host-tests.sh, docs/wayland-display.md "Bad hosts"). Shows nothing.
//
// Build (the test script does this; the xdg-shell glue is generated there, never committed):
//   wayland-scanner server-header xdg-shell.xml xdg-shell-server-protocol.h
//   wayland-scanner private-code  xdg-shell.xml xdg-shell-protocol.c
//   cc -O2 -Wall -I. -o bad-host tests/clients/bad-host.c xdg-shell-protocol.c $(pkg-config --cflags --libs wayland-server)
// Usage: XDG_RUNTIME_DIR=DIR bad-host SOCKET-NAME MODE
//   no-frames     never sends a frame callback (buffers are released as they are replaced)
//   no-release    frame callbacks every 16 ms, but never a wl_buffer.release
//   close-after N behaves (frames every 16 ms, releases on replace) and sends
//                 xdg_toplevel.close after N commits with a buffer
// On SIGTERM prints "commits=N buffer_commits=N frames=N releases=N closes=N" and exits 0.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wayland-server.h>
#include "xdg-shell-server-protocol.h"

enum mode { NO_FRAMES, NO_RELEASE, CLOSE_AFTER };
static enum mode mode;
static int close_after;
static int commits, buffer_commits, frames, releases, closes;
static struct wl_display *display;
static struct wl_list surfaces;

// A buffer reference that forgets the buffer when its client destroys it.
struct buffer_ref {
    struct wl_resource *buffer;
    struct wl_listener destroyed;
};

static void buffer_ref_gone(struct wl_listener *l, void *data) {
    (void)data;
    struct buffer_ref *r = wl_container_of(l, r, destroyed);
    r->buffer = NULL;
    wl_list_remove(&r->destroyed.link);
    wl_list_init(&r->destroyed.link);
}

static void buffer_ref_set(struct buffer_ref *r, struct wl_resource *b) {
    wl_list_remove(&r->destroyed.link);
    wl_list_init(&r->destroyed.link);
    r->buffer = b;
    if (b) {
        r->destroyed.notify = buffer_ref_gone;
        wl_resource_add_destroy_listener(b, &r->destroyed);
    }
}

struct surface {
    struct wl_resource *resource;
    struct wl_resource *toplevel, *xdg;
    struct buffer_ref pending, current;
    int attached;          // an attach since the last commit
    int configured;
    struct wl_list frame_pending;    // wl_callback resources asked for since the last commit
    struct wl_list frame_committed;  // ... committed, fired by the frame timer
    struct wl_list link;
};

static void unlink_resource(struct wl_resource *r) { wl_list_remove(wl_resource_get_link(r)); }

static void surface_destroy(struct wl_client *c, struct wl_resource *r) { (void)c; wl_resource_destroy(r); }

static void surface_attach(struct wl_client *c, struct wl_resource *r, struct wl_resource *buffer, int32_t x, int32_t y) {
    (void)c; (void)x; (void)y;
    struct surface *s = wl_resource_get_user_data(r);
    buffer_ref_set(&s->pending, buffer);
    s->attached = 1;
}

static void surface_damage(struct wl_client *c, struct wl_resource *r, int32_t x, int32_t y, int32_t w, int32_t h) {
    (void)c; (void)r; (void)x; (void)y; (void)w; (void)h;
}

static void surface_frame(struct wl_client *c, struct wl_resource *r, uint32_t id) {
    struct surface *s = wl_resource_get_user_data(r);
    struct wl_resource *cb = wl_resource_create(c, &wl_callback_interface, 1, id);
    if (!cb) { wl_client_post_no_memory(c); return; }
    wl_resource_set_implementation(cb, NULL, NULL, unlink_resource);
    wl_list_insert(s->frame_pending.prev, wl_resource_get_link(cb));
}

static void surface_region(struct wl_client *c, struct wl_resource *r, struct wl_resource *region) {
    (void)c; (void)r; (void)region;
}

static void surface_commit(struct wl_client *c, struct wl_resource *r) {
    (void)c;
    struct surface *s = wl_resource_get_user_data(r);
    commits++;
    wl_list_insert_list(s->frame_committed.prev, &s->frame_pending);
    wl_list_init(&s->frame_pending);
    if (s->toplevel && !s->configured) {
        // The initial commit: the first configure, as any xdg-shell host does.
        struct wl_array states;
        wl_array_init(&states);
        xdg_toplevel_send_configure(s->toplevel, 0, 0, &states);
        wl_array_release(&states);
        xdg_surface_send_configure(s->xdg, wl_display_next_serial(display));
        s->configured = 1;
    }
    if (!s->attached) return;
    s->attached = 0;
    if (s->pending.buffer) buffer_commits++;
    if (s->current.buffer && s->current.buffer != s->pending.buffer && mode != NO_RELEASE) {
        wl_buffer_send_release(s->current.buffer);
        releases++;
    }
    buffer_ref_set(&s->current, s->pending.buffer);
    buffer_ref_set(&s->pending, NULL);
    if (mode == CLOSE_AFTER && buffer_commits == close_after && s->toplevel) {
        xdg_toplevel_send_close(s->toplevel);
        closes++;
    }
}

static void surface_transform(struct wl_client *c, struct wl_resource *r, int32_t t) { (void)c; (void)r; (void)t; }

static const struct wl_surface_interface surface_impl = {
    .destroy = surface_destroy, .attach = surface_attach, .damage = surface_damage, .frame = surface_frame,
    .set_opaque_region = surface_region, .set_input_region = surface_region, .commit = surface_commit,
    .set_buffer_transform = surface_transform, .set_buffer_scale = surface_transform, .damage_buffer = surface_damage,
};

static void surface_free(struct wl_resource *r) {
    struct surface *s = wl_resource_get_user_data(r);
    buffer_ref_set(&s->pending, NULL);
    buffer_ref_set(&s->current, NULL);
    struct wl_resource *cb, *tmp;
    wl_resource_for_each_safe(cb, tmp, &s->frame_pending) wl_resource_destroy(cb);
    wl_resource_for_each_safe(cb, tmp, &s->frame_committed) wl_resource_destroy(cb);
    wl_list_remove(&s->link);
    free(s);
}

static void region_destroy(struct wl_client *c, struct wl_resource *r) { (void)c; wl_resource_destroy(r); }
static void region_rect(struct wl_client *c, struct wl_resource *r, int32_t x, int32_t y, int32_t w, int32_t h) {
    (void)c; (void)r; (void)x; (void)y; (void)w; (void)h;
}
static const struct wl_region_interface region_impl = { .destroy = region_destroy, .add = region_rect, .subtract = region_rect };

static void create_surface(struct wl_client *c, struct wl_resource *r, uint32_t id) {
    struct surface *s = calloc(1, sizeof *s);
    if (!s) { wl_client_post_no_memory(c); return; }
    s->resource = wl_resource_create(c, &wl_surface_interface, wl_resource_get_version(r), id);
    if (!s->resource) { free(s); wl_client_post_no_memory(c); return; }
    wl_list_init(&s->pending.destroyed.link);
    wl_list_init(&s->current.destroyed.link);
    wl_list_init(&s->frame_pending);
    wl_list_init(&s->frame_committed);
    wl_list_insert(&surfaces, &s->link);
    wl_resource_set_implementation(s->resource, &surface_impl, s, surface_free);
}

static void create_region(struct wl_client *c, struct wl_resource *r, uint32_t id) {
    struct wl_resource *res = wl_resource_create(c, &wl_region_interface, wl_resource_get_version(r), id);
    if (!res) { wl_client_post_no_memory(c); return; }
    wl_resource_set_implementation(res, &region_impl, NULL, NULL);
}

static const struct wl_compositor_interface compositor_impl = { .create_surface = create_surface, .create_region = create_region };

static void bind_compositor(struct wl_client *c, void *data, uint32_t version, uint32_t id) {
    (void)data;
    struct wl_resource *r = wl_resource_create(c, &wl_compositor_interface, version, id);
    if (r) wl_resource_set_implementation(r, &compositor_impl, NULL, NULL);
}

// xdg_toplevel: every request accepted and ignored.
static void tl_destroy(struct wl_client *c, struct wl_resource *r) { (void)c; wl_resource_destroy(r); }
static void tl_parent(struct wl_client *c, struct wl_resource *r, struct wl_resource *p) { (void)c; (void)r; (void)p; }
static void tl_string(struct wl_client *c, struct wl_resource *r, const char *s) { (void)c; (void)r; (void)s; }
static void tl_menu(struct wl_client *c, struct wl_resource *r, struct wl_resource *seat, uint32_t serial, int32_t x, int32_t y) {
    (void)c; (void)r; (void)seat; (void)serial; (void)x; (void)y;
}
static void tl_move(struct wl_client *c, struct wl_resource *r, struct wl_resource *seat, uint32_t serial) { (void)c; (void)r; (void)seat; (void)serial; }
static void tl_resize(struct wl_client *c, struct wl_resource *r, struct wl_resource *seat, uint32_t serial, uint32_t e) {
    (void)c; (void)r; (void)seat; (void)serial; (void)e;
}
static void tl_size(struct wl_client *c, struct wl_resource *r, int32_t w, int32_t h) { (void)c; (void)r; (void)w; (void)h; }
static void tl_none(struct wl_client *c, struct wl_resource *r) { (void)c; (void)r; }
static void tl_fullscreen(struct wl_client *c, struct wl_resource *r, struct wl_resource *o) { (void)c; (void)r; (void)o; }
static const struct xdg_toplevel_interface toplevel_impl = {
    .destroy = tl_destroy, .set_parent = tl_parent, .set_title = tl_string, .set_app_id = tl_string,
    .show_window_menu = tl_menu, .move = tl_move, .resize = tl_resize, .set_max_size = tl_size, .set_min_size = tl_size,
    .set_maximized = tl_none, .unset_maximized = tl_none, .set_fullscreen = tl_fullscreen, .unset_fullscreen = tl_none,
    .set_minimized = tl_none,
};

static void toplevel_free(struct wl_resource *r) {
    struct surface *s = wl_resource_get_user_data(r);
    struct surface *it;
    wl_list_for_each(it, &surfaces, link) if (it == s) s->toplevel = NULL;
}

static void xs_destroy(struct wl_client *c, struct wl_resource *r) { (void)c; wl_resource_destroy(r); }
static void xs_get_toplevel(struct wl_client *c, struct wl_resource *r, uint32_t id) {
    struct surface *s = wl_resource_get_user_data(r);
    struct wl_resource *t = wl_resource_create(c, &xdg_toplevel_interface, wl_resource_get_version(r), id);
    if (!t) { wl_client_post_no_memory(c); return; }
    wl_resource_set_implementation(t, &toplevel_impl, s, toplevel_free);
    s->toplevel = t;
    s->xdg = r;
}
static void xs_get_popup(struct wl_client *c, struct wl_resource *r, uint32_t id, struct wl_resource *p, struct wl_resource *pos) {
    (void)c; (void)id; (void)p; (void)pos;
    wl_resource_post_error(r, XDG_WM_BASE_ERROR_INVALID_POPUP_PARENT, "bad-host has no popups");
}
static void xs_geometry(struct wl_client *c, struct wl_resource *r, int32_t x, int32_t y, int32_t w, int32_t h) {
    (void)c; (void)r; (void)x; (void)y; (void)w; (void)h;
}
static void xs_ack(struct wl_client *c, struct wl_resource *r, uint32_t serial) { (void)c; (void)r; (void)serial; }
static const struct xdg_surface_interface xdg_surface_impl = {
    .destroy = xs_destroy, .get_toplevel = xs_get_toplevel, .get_popup = xs_get_popup,
    .set_window_geometry = xs_geometry, .ack_configure = xs_ack,
};

static void wm_destroy(struct wl_client *c, struct wl_resource *r) { (void)c; wl_resource_destroy(r); }
static void wm_positioner(struct wl_client *c, struct wl_resource *r, uint32_t id) {
    (void)c; (void)id;
    wl_resource_post_error(r, XDG_WM_BASE_ERROR_INVALID_POSITIONER, "bad-host has no positioners");
}
static void wm_get_xdg_surface(struct wl_client *c, struct wl_resource *r, uint32_t id, struct wl_resource *surface) {
    struct wl_resource *x = wl_resource_create(c, &xdg_surface_interface, wl_resource_get_version(r), id);
    if (!x) { wl_client_post_no_memory(c); return; }
    wl_resource_set_implementation(x, &xdg_surface_impl, wl_resource_get_user_data(surface), NULL);
}
static void wm_pong(struct wl_client *c, struct wl_resource *r, uint32_t serial) { (void)c; (void)r; (void)serial; }
static const struct xdg_wm_base_interface wm_impl = {
    .destroy = wm_destroy, .create_positioner = wm_positioner, .get_xdg_surface = wm_get_xdg_surface, .pong = wm_pong,
};

static void bind_wm(struct wl_client *c, void *data, uint32_t version, uint32_t id) {
    (void)data;
    struct wl_resource *r = wl_resource_create(c, &xdg_wm_base_interface, version, id);
    if (r) wl_resource_set_implementation(r, &wm_impl, NULL, NULL);
}

static struct wl_event_source *ticker;

// Every 16 ms: the committed frame callbacks are done (unless this host never sends them).
static int frame_timer(void *data) {
    (void)data;
    wl_event_source_timer_update(ticker, 16);
    if (mode == NO_FRAMES) return 0;
    struct surface *s;
    wl_list_for_each(s, &surfaces, link) {
        struct wl_resource *cb, *tmp;
        wl_resource_for_each_safe(cb, tmp, &s->frame_committed) {
            wl_callback_send_done(cb, (uint32_t)frames * 16);
            wl_resource_destroy(cb);
            frames++;
        }
    }
    return 0;
}

static int on_term(int sig, void *data) {
    (void)sig; (void)data;
    wl_display_terminate(display);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: bad-host SOCKET-NAME no-frames|no-release|close-after N\n"); return 2; }
    if (!strcmp(argv[2], "no-frames")) mode = NO_FRAMES;
    else if (!strcmp(argv[2], "no-release")) mode = NO_RELEASE;
    else if (!strcmp(argv[2], "close-after") && argc > 3) { mode = CLOSE_AFTER; close_after = atoi(argv[3]); }
    else { fprintf(stderr, "bad-host: unknown mode %s\n", argv[2]); return 2; }
    wl_list_init(&surfaces);
    display = wl_display_create();
    if (!display || wl_display_add_socket(display, argv[1]) != 0) { perror("bad-host: socket"); return 1; }
    wl_display_init_shm(display);
    wl_global_create(display, &wl_compositor_interface, 4, NULL, bind_compositor);
    wl_global_create(display, &xdg_wm_base_interface, 1, NULL, bind_wm);
    struct wl_event_loop *loop = wl_display_get_event_loop(display);
    ticker = wl_event_loop_add_timer(loop, frame_timer, NULL);
    wl_event_source_timer_update(ticker, 16);
    wl_event_loop_add_signal(loop, SIGTERM, on_term, NULL);
    wl_event_loop_add_signal(loop, SIGINT, on_term, NULL);
    printf("ready\n");
    fflush(stdout);
    wl_display_run(display);
    printf("commits=%d buffer_commits=%d frames=%d releases=%d closes=%d\n", commits, buffer_commits, frames, releases, closes);
    wl_display_destroy_clients(display);
    wl_display_destroy(display);
    return 0;
}
