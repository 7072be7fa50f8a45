# One warning policy for every target: the project builds clean with
# -Wall -Wextra -Werror, and a few more that catch real bugs in this code
# (format strings, shadowed names, implicit conversions of signedness).
function(pgep_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wno-unused-parameter -Wvla)
endfunction()
