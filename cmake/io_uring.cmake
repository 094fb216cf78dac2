# berth-proxy on io_uring, with an epoll twin (see http/io_backend.h). Asio chooses its reactor
# at compile time, so every library berth-proxy links that includes Asio is compiled a second
# time, as <lib>_uring, with Asio's io_uring backend as its default (BOOST_ASIO_HAS_IO_URING +
# BOOST_ASIO_DISABLE_EPOLL) and BERTH_IO_URING=1. A binary links one set or the other, never
# both (mixing them would break the one-definition rule). berth-proxy links the _uring set;
# berth-proxy-epoll, the epoll set, is what it execs when io_uring is unusable. (calc stays on
# epoll: one recv and one send per request gain nothing from the ring here, see
# docs/design/http.md.) Included from the top-level CMakeLists.txt once every library exists.

# The imported targets the twins link, found again here (imported targets are per directory).
find_package(Boost 1.81 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)

set(BERTH_ASIO_LIBS berth_http berth_http2 berth_telemetry berth_mesh)

function(berth_uring_twin lib)
  get_target_property(srcs ${lib} SOURCES)
  get_target_property(dir ${lib} SOURCE_DIR)
  set(abs)
  foreach(s IN LISTS srcs)
    if(IS_ABSOLUTE "${s}")
      list(APPEND abs "${s}")
    else()
      list(APPEND abs "${dir}/${s}")
    endif()
  endforeach()
  add_library(${lib}_uring STATIC ${abs})
  # Direct dependencies (public and private), with the Asio libraries swapped for their twins.
  get_target_property(links ${lib} LINK_LIBRARIES)
  set(mapped)
  foreach(l IN LISTS links)
    if(l IN_LIST BERTH_ASIO_LIBS)
      list(APPEND mapped ${l}_uring)
    else()
      list(APPEND mapped ${l})
    endif()
  endforeach()
  target_link_libraries(${lib}_uring PUBLIC ${mapped})
  foreach(prop COMPILE_OPTIONS COMPILE_DEFINITIONS INCLUDE_DIRECTORIES)
    get_target_property(v ${lib} ${prop})
    if(v)
      set_property(TARGET ${lib}_uring APPEND PROPERTY ${prop} ${v})
    endif()
  endforeach()
  foreach(prop INTERFACE_COMPILE_DEFINITIONS INTERFACE_COMPILE_OPTIONS)
    get_target_property(v ${lib} ${prop})
    if(v)
      set_property(TARGET ${lib}_uring APPEND PROPERTY ${prop} ${v})
    endif()
  endforeach()
  target_compile_definitions(${lib}_uring PUBLIC BERTH_IO_URING=1 BOOST_ASIO_HAS_IO_URING
                             BOOST_ASIO_DISABLE_EPOLL)
endfunction()

foreach(lib IN LISTS BERTH_ASIO_LIBS)
  if(TARGET ${lib})
    berth_uring_twin(${lib})
  endif()
endforeach()
target_link_libraries(berth_http_uring PUBLIC ${BERTH_LIBURING})
# Asio's rings are made by io_uring_queue_init; http/io_backend.cc wraps it (ring flags, size).
target_link_options(berth_http_uring INTERFACE "LINKER:--wrap=io_uring_queue_init")

# The HTTP server and client tests once more on io_uring (names prefixed "io_uring.").
add_executable(http_server_test_uring ${CMAKE_SOURCE_DIR}/http/server_test.cc
               ${CMAKE_SOURCE_DIR}/http/body_stream_test.cc)
target_link_libraries(http_server_test_uring PRIVATE berth_http_uring GTest::gtest
                      GTest::gtest_main GTest::gmock)
set_target_properties(http_server_test_uring PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
gtest_discover_tests(http_server_test_uring TEST_PREFIX "io_uring." PROPERTIES LABELS unit
                     DISCOVERY_TIMEOUT 60 WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
