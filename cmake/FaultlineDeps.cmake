# Every third-party library comes from Debian's packages (see scripts/install-deps).
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(GTest REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBSSH REQUIRED IMPORTED_TARGET libssh)
pkg_check_modules(LIBNL REQUIRED IMPORTED_TARGET libnl-3.0 libnl-route-3.0)
pkg_check_modules(NFQ REQUIRED IMPORTED_TARGET libnetfilter_queue)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)

# The official ZooKeeper C client (libzookeeper-mt-dev) ships no pkg-config file.
find_path(ZOOKEEPER_INCLUDE_DIR zookeeper/zookeeper.h REQUIRED)
find_library(ZOOKEEPER_MT_LIBRARY zookeeper_mt REQUIRED)
add_library(zookeeper_mt INTERFACE)
target_include_directories(zookeeper_mt INTERFACE ${ZOOKEEPER_INCLUDE_DIR}/zookeeper)
target_link_libraries(zookeeper_mt INTERFACE ${ZOOKEEPER_MT_LIBRARY} Threads::Threads)


# faultline_test(NAME SOURCES... LIBS ... [LABELS ...]) adds a GoogleTest binary registered with ctest.
# Label "unit" runs everywhere (also under sanitizers); "lab" tests need root and namespaces.
function(faultline_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(T_LABELS STREQUAL "lab")
    # The cases of one lab binary share its namespaces, addresses and ports (fixed names, so
    # a crashed run's leftovers are found): they never run at the same time.
    gtest_discover_tests(${name} PROPERTIES LABELS lab RESOURCE_LOCK ${name} DISCOVERY_TIMEOUT 30)
  else()
    gtest_discover_tests(${name} PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 30)
  endif()
endfunction()

# faultline_folder_tests(DIR LIBS...) makes one test binary per *_test.cc (label "unit")
# and per *_labtest.cc (label "lab": needs root, creates namespaces) under DIR, so a new
# test file needs no CMake edit.
function(faultline_folder_tests dir)
  file(GLOB_RECURSE unit_tests CONFIGURE_DEPENDS ${dir}/*_test.cc)
  file(GLOB_RECURSE lab_tests CONFIGURE_DEPENDS ${dir}/*_labtest.cc)
  foreach(src ${unit_tests})
    get_filename_component(name ${src} NAME_WE)
    faultline_test(${name} SOURCES ${src} LIBS ${ARGN} LABELS unit)
  endforeach()
  foreach(src ${lab_tests})
    get_filename_component(name ${src} NAME_WE)
    faultline_test(${name} SOURCES ${src} LIBS ${ARGN} LABELS lab)
  endforeach()
endfunction()

# Library sources of a folder: every .cc except tests, fuzzers and programs' mains.
function(faultline_sources out dir)
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${dir}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "_(test|labtest|fuzz)\\.cc$|/main\\.cc$")
  set(${out} ${srcs} PARENT_SCOPE)
endfunction()

# faultline_fuzz(NAME SOURCES... LIBS ...) adds a libFuzzer target (only in the fuzz build,
# scripts/build fuzz), written to <build>/fuzz/NAME. Name it <something>_fuzz. Seeds may sit
# in tests/fuzz-seeds/NAME/.
function(faultline_fuzz name)
  if(NOT FAULTLINE_FUZZ)
    return()
  endif()
  cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${F_SOURCES})
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  add_dependencies(fuzzers ${name})
endfunction()
