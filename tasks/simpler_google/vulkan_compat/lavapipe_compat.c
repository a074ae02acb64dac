/*
 * VK_LAYER_HARNESS_lavapipe_compat: lets SAPIEN 2.2 create its Vulkan device on Mesa's CPU driver (lavapipe).
 *
 * SAPIEN 2 enables VK_KHR_external_semaphore_fd and VK_KHR_external_fence_fd at device creation (used only for
 * CUDA interop, which a CPU machine never does). Lavapipe does not offer them, so vkCreateDevice fails with
 * VK_ERROR_EXTENSION_NOT_PRESENT. This explicit layer reports the two extensions as present when the driver
 * lacks them and removes them from the device's enabled list; nothing else is touched. The harness enables it
 * (VK_LAYER_PATH / VK_INSTANCE_LAYERS) only when no NVIDIA Vulkan driver is installed.
 *
 * Built at install time: cc -shared -fPIC -O2 -o libharness_lavapipe_compat.so lavapipe_compat.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vulkan/vk_layer.h>
#include <vulkan/vulkan.h>

#define LAYER_NAME "VK_LAYER_HARNESS_lavapipe_compat"
#define EXPORT __attribute__((visibility("default")))

static const char *const kFaked[] = {VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME,
                                     VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME};
enum { kNumFaked = sizeof(kFaked) / sizeof(kFaked[0]) };

/* The next layer's entry points, cached when the instance / device is created (looking them up again later
 * through the loader can return this layer's own functions and recurse). */
static PFN_vkGetInstanceProcAddr next_gipa;
static PFN_vkGetDeviceProcAddr next_gdpa;
static PFN_vkEnumerateDeviceExtensionProperties next_enumerate_device_extensions;

static int quiet(void) {
  const char *v = getenv("HARNESS_VULKAN_COMPAT_QUIET");
  return v != NULL && v[0] == '1';
}

/* The driver's own device extensions (malloc'd; caller frees) and their count. */
static VkExtensionProperties *driver_extensions(VkPhysicalDevice gpu, uint32_t *count) {
  *count = 0;
  if (next_enumerate_device_extensions(gpu, NULL, count, NULL) != VK_SUCCESS) return NULL;
  VkExtensionProperties *props = calloc(*count + kNumFaked, sizeof(VkExtensionProperties));
  if (props == NULL) return NULL;
  if (next_enumerate_device_extensions(gpu, NULL, count, props) != VK_SUCCESS) {
    free(props);
    *count = 0;
    return NULL;
  }
  return props;
}

static int has_extension(const VkExtensionProperties *props, uint32_t count, const char *name) {
  for (uint32_t i = 0; i < count; ++i)
    if (strcmp(props[i].extensionName, name) == 0) return 1;
  return 0;
}

static VKAPI_ATTR VkResult VKAPI_CALL compat_EnumerateDeviceExtensionProperties(VkPhysicalDevice gpu,
                                                                               const char *layer_name,
                                                                               uint32_t *count,
                                                                               VkExtensionProperties *out) {
  if (layer_name != NULL && strcmp(layer_name, LAYER_NAME) == 0) {
    *count = 0; /* the layer itself implements no device extension */
    return VK_SUCCESS;
  }
  if (layer_name != NULL) return next_enumerate_device_extensions(gpu, layer_name, count, out);
  uint32_t n = 0;
  VkExtensionProperties *props = driver_extensions(gpu, &n);
  if (props == NULL) return VK_ERROR_OUT_OF_HOST_MEMORY;
  uint32_t total = n;
  for (int i = 0; i < kNumFaked; ++i) {
    if (!has_extension(props, n, kFaked[i])) {
      memset(&props[total], 0, sizeof(props[total]));
      strncpy(props[total].extensionName, kFaked[i], VK_MAX_EXTENSION_NAME_SIZE - 1);
      props[total].specVersion = 1;
      ++total;
    }
  }
  VkResult result = VK_SUCCESS;
  if (out == NULL) {
    *count = total;
  } else {
    uint32_t copied = *count < total ? *count : total;
    memcpy(out, props, copied * sizeof(VkExtensionProperties));
    if (copied < total) result = VK_INCOMPLETE;
    *count = copied;
  }
  free(props);
  return result;
}

static VkLayerInstanceCreateInfo *instance_link(const VkInstanceCreateInfo *info) {
  VkLayerInstanceCreateInfo *link = (VkLayerInstanceCreateInfo *)info->pNext;
  while (link != NULL && !(link->sType == VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO &&
                           link->function == VK_LAYER_LINK_INFO))
    link = (VkLayerInstanceCreateInfo *)link->pNext;
  return link;
}

static VkLayerDeviceCreateInfo *device_link(const VkDeviceCreateInfo *info) {
  VkLayerDeviceCreateInfo *link = (VkLayerDeviceCreateInfo *)info->pNext;
  while (link != NULL &&
         !(link->sType == VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO && link->function == VK_LAYER_LINK_INFO))
    link = (VkLayerDeviceCreateInfo *)link->pNext;
  return link;
}

static VKAPI_ATTR VkResult VKAPI_CALL compat_CreateInstance(const VkInstanceCreateInfo *info,
                                                            const VkAllocationCallbacks *allocator,
                                                            VkInstance *instance) {
  VkLayerInstanceCreateInfo *link = instance_link(info);
  if (link == NULL) return VK_ERROR_INITIALIZATION_FAILED;
  next_gipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  link->u.pLayerInfo = link->u.pLayerInfo->pNext;
  PFN_vkCreateInstance next_create = (PFN_vkCreateInstance)next_gipa(VK_NULL_HANDLE, "vkCreateInstance");
  VkResult result = next_create(info, allocator, instance);
  if (result != VK_SUCCESS) return result;
  next_enumerate_device_extensions = (PFN_vkEnumerateDeviceExtensionProperties)next_gipa(
      *instance, "vkEnumerateDeviceExtensionProperties");
  return VK_SUCCESS;
}

static VKAPI_ATTR VkResult VKAPI_CALL compat_CreateDevice(VkPhysicalDevice gpu, const VkDeviceCreateInfo *info,
                                                          const VkAllocationCallbacks *allocator,
                                                          VkDevice *device) {
  VkLayerDeviceCreateInfo *link = device_link(info);
  if (link == NULL) return VK_ERROR_INITIALIZATION_FAILED;
  PFN_vkGetInstanceProcAddr gipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  next_gdpa = link->u.pLayerInfo->pfnNextGetDeviceProcAddr;
  link->u.pLayerInfo = link->u.pLayerInfo->pNext;
  PFN_vkCreateDevice next_create = (PFN_vkCreateDevice)gipa(VK_NULL_HANDLE, "vkCreateDevice");

  uint32_t n = 0;
  VkExtensionProperties *props = driver_extensions(gpu, &n);
  const char **names = calloc(info->enabledExtensionCount + 1, sizeof(char *));
  if (props == NULL || names == NULL) {
    free(props);
    free(names);
    return VK_ERROR_OUT_OF_HOST_MEMORY;
  }
  uint32_t kept = 0;
  for (uint32_t i = 0; i < info->enabledExtensionCount; ++i) {
    const char *name = info->ppEnabledExtensionNames[i];
    int faked = 0;
    for (int f = 0; f < kNumFaked; ++f)
      if (strcmp(name, kFaked[f]) == 0 && !has_extension(props, n, name)) faked = 1;
    if (faked) {
      if (!quiet()) fprintf(stderr, "[" LAYER_NAME "] not enabling %s (the driver lacks it)\n", name);
      continue;
    }
    names[kept++] = name;
  }
  VkDeviceCreateInfo filtered = *info;
  filtered.enabledExtensionCount = kept;
  filtered.ppEnabledExtensionNames = names;
  VkResult result = next_create(gpu, &filtered, allocator, device);
  free(names);
  free(props);
  return result;
}

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL harness_compat_GetDeviceProcAddr(VkDevice device,
                                                                                 const char *name);

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL harness_compat_GetInstanceProcAddr(VkInstance instance,
                                                                                   const char *name) {
  if (strcmp(name, "vkGetInstanceProcAddr") == 0) return (PFN_vkVoidFunction)harness_compat_GetInstanceProcAddr;
  if (strcmp(name, "vkGetDeviceProcAddr") == 0) return (PFN_vkVoidFunction)harness_compat_GetDeviceProcAddr;
  if (strcmp(name, "vkCreateInstance") == 0) return (PFN_vkVoidFunction)compat_CreateInstance;
  if (strcmp(name, "vkCreateDevice") == 0) return (PFN_vkVoidFunction)compat_CreateDevice;
  if (strcmp(name, "vkEnumerateDeviceExtensionProperties") == 0)
    return (PFN_vkVoidFunction)compat_EnumerateDeviceExtensionProperties;
  return next_gipa != NULL ? next_gipa(instance, name) : NULL;
}

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL harness_compat_GetDeviceProcAddr(VkDevice device,
                                                                                 const char *name) {
  if (strcmp(name, "vkGetDeviceProcAddr") == 0) return (PFN_vkVoidFunction)harness_compat_GetDeviceProcAddr;
  return next_gdpa != NULL ? next_gdpa(device, name) : NULL;
}
