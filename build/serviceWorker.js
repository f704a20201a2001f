export function serviceWorker() { return { name: 'sw' }; }
