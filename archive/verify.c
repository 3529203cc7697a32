/* verify: placeholder until its module lands (see archive/meson.build). */
