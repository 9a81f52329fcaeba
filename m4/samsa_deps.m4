# SAMSA_REQUIRE_PKG(VAR, MODULE, DEBIAN-PACKAGE)
# Look a library up through pkg-config; when absent, remember it so configure can
# name every missing dependency at once instead of failing on the first.
AC_DEFUN([SAMSA_REQUIRE_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [], [
    SAMSA_MISSING="$SAMSA_MISSING $2"
    SAMSA_MISSING_DEBS="$SAMSA_MISSING_DEBS $3"
  ])
])

# SAMSA_REQUIRE_ZOOKEEPER_MT
# The ZooKeeper C client ships no .pc file; we need the multi-threaded flavour
# (libzookeeper_mt) because the broker calls it from several threads.
AC_DEFUN([SAMSA_REQUIRE_ZOOKEEPER_MT], [
  ZOOKEEPER_CFLAGS="-DTHREADED"
  samsa_zk_ok=yes
  AC_CHECK_HEADER([zookeeper/zookeeper.h], [], [samsa_zk_ok=no])
  AC_CHECK_LIB([zookeeper_mt], [zookeeper_init], [ZOOKEEPER_LIBS="-lzookeeper_mt"], [samsa_zk_ok=no])
  if test "x$samsa_zk_ok" = xno; then
    SAMSA_MISSING="$SAMSA_MISSING zookeeper_mt"
    SAMSA_MISSING_DEBS="$SAMSA_MISSING_DEBS libzookeeper-mt-dev"
  fi
  AC_SUBST([ZOOKEEPER_CFLAGS])
  AC_SUBST([ZOOKEEPER_LIBS])
])
